"""What customers and members do with each other in WeCom, and the callbacks WeCom then
pushes (protocol.md §4). API calls never come through here: they push nothing."""

from collections.abc import Sequence

from siyu.connectors.wecom_sim.apis.contact_ways import way_members
from siyu.connectors.wecom_sim.callbacks import FieldValue, emit
from siyu.connectors.wecom_sim.seed import add_contact, add_follow, add_member
from siyu.connectors.wecom_sim.state import (
    RESIGNED,
    ContactWay,
    FollowInfo,
    PendingRequest,
    SimState,
    WelcomeCode,
)


class ActionError(Exception):
    """The action cannot happen (unknown ids, no such relation)."""


def contact_event(state: SimState, change_type: str, fields: dict[str, FieldValue]) -> None:
    emit(state, "change_external_contact", change_type, fields)


def issue_welcome_code(state: SimState, userid: str, external_userid: str) -> str:
    code = state.random_id("", 43)
    state.welcome_codes[code] = WelcomeCode(code, userid, external_userid, state.now())
    return code


def find_way(state: SimState, config_id: str | None, way_state: str | None) -> ContactWay:
    if config_id:
        way = state.contact_ways.get(config_id)
    else:
        way = next((w for w in state.contact_ways.values() if w.state == way_state), None)
    if way is None:
        raise ActionError("no contact way with that config_id or state")
    return way


def scan(
    state: SimState,
    *,
    config_id: str | None = None,
    way_state: str | None = None,
    external_userid: str | None = None,
    name: str | None = None,
    half: bool = False,
) -> dict[str, object]:
    """A customer scans a live code and adds the staff member the contact way picks."""
    with state.lock:
        way = find_way(state, config_id, way_state)
        staff = [u for u in way_members(state, way) if state.members[u].status == 1]
        if not staff:
            raise ActionError("the contact way reaches no active staff member")
        userid = staff[way.next_index % len(staff)]
        way.next_index += 1
        if external_userid and external_userid in state.contacts:
            contact = state.contacts[external_userid]
        else:
            contact = add_contact(state, name, external_userid=external_userid)
        result: dict[str, object] = {
            "userid": userid,
            "external_userid": contact.external_userid,
            "state": way.state,
            "welcome_code": None,
            "pending": False,
        }
        if (userid, contact.external_userid) in state.follows:
            result["already_added"] = True
            return result
        if not way.skip_verify or half:
            state.pending_requests.append(
                PendingRequest(userid, contact.external_userid, way.state, way.config_id)
            )
            result["pending"] = True
        if half and way.skip_verify:
            fields: dict[str, FieldValue] = {
                "UserID": userid,
                "ExternalUserID": contact.external_userid,
            }
            if way.state:
                fields["State"] = way.state
            if not state.config.console_welcome_message:
                code = issue_welcome_code(state, userid, contact.external_userid)
                result["welcome_code"] = code
                fields["WelcomeCode"] = code
            contact_event(state, "add_half_external_contact", fields)
            return result
        if result["pending"]:
            return result
        result["welcome_code"] = _befriend(state, userid, contact.external_userid, way.state, 1)
        return result


def _befriend(
    state: SimState,
    userid: str,
    external_userid: str,
    way_state: str,
    add_way: int,
    *,
    welcome: bool = True,
    oper_userid: str | None = None,
) -> str | None:
    follow = add_follow(state, userid, external_userid, add_way=add_way, state_value=way_state)
    follow.oper_userid = oper_userid or external_userid
    fields: dict[str, FieldValue] = {"UserID": userid, "ExternalUserID": external_userid}
    if way_state:
        fields["State"] = way_state
    code = None
    if welcome and not state.config.console_welcome_message:
        code = issue_welcome_code(state, userid, external_userid)
        fields["WelcomeCode"] = code
    contact_event(state, "add_external_contact", fields)
    return code


def accept(state: SimState, userid: str, external_userid: str) -> dict[str, object]:
    """The member accepts a waiting friend request (or confirms a half-added customer)."""
    with state.lock:
        request = next(
            (
                r
                for r in state.pending_requests
                if r.userid == userid and r.external_userid == external_userid
            ),
            None,
        )
        if request is None:
            raise ActionError("no waiting friend request from that customer")
        state.pending_requests.remove(request)
        used = any(
            w.used
            for w in state.welcome_codes.values()
            if w.userid == userid and w.external_userid == external_userid
        )
        code = _befriend(state, userid, external_userid, request.state, 1, welcome=not used)
        return {"userid": userid, "external_userid": external_userid, "welcome_code": code}


def staff_adds(
    state: SimState,
    userid: str,
    *,
    external_userid: str | None = None,
    name: str | None = None,
    add_way: int = 2,
) -> dict[str, object]:
    """A member adds a customer themselves (e.g. searched the phone number)."""
    with state.lock:
        active_member(state, userid)
        if external_userid and external_userid in state.contacts:
            contact = state.contacts[external_userid]
        else:
            contact = add_contact(state, name, external_userid=external_userid)
        if (userid, contact.external_userid) in state.follows:
            raise ActionError("already added")
        code = _befriend(state, userid, contact.external_userid, "", add_way, oper_userid=userid)
        return {"userid": userid, "external_userid": contact.external_userid, "welcome_code": code}


def active_member(state: SimState, userid: str) -> None:
    member = state.members.get(userid)
    if member is None or member.status == RESIGNED:
        raise ActionError(f"no active member {userid}")


def _follow(state: SimState, userid: str, external_userid: str) -> FollowInfo:
    follow = state.follows.get((userid, external_userid))
    if follow is None:
        raise ActionError("no such member–customer relation")
    return follow


def customer_deletes_staff(state: SimState, userid: str, external_userid: str) -> None:
    with state.lock:
        follow = _follow(state, userid, external_userid)
        if follow.deleted_by_customer:
            raise ActionError("the customer already deleted this member")
        if state.config.customer_delete_keeps_relation:
            follow.deleted_by_customer = True
        else:
            del state.follows[(userid, external_userid)]
        contact_event(
            state, "del_follow_user", {"UserID": userid, "ExternalUserID": external_userid}
        )


def staff_deletes_customer(state: SimState, userid: str, external_userid: str) -> None:
    with state.lock:
        _follow(state, userid, external_userid)
        del state.follows[(userid, external_userid)]
        contact_event(
            state, "del_external_contact", {"UserID": userid, "ExternalUserID": external_userid}
        )


def staff_edits_customer(
    state: SimState,
    userid: str,
    external_userid: str,
    *,
    remark: str | None = None,
    description: str | None = None,
    remark_mobiles: list[str] | None = None,
    add_tag_ids: Sequence[str] = (),
    remove_tag_ids: Sequence[str] = (),
) -> None:
    """Edits in the member's client; changing only the remark phone numbers fires no event."""
    with state.lock:
        follow = _follow(state, userid, external_userid)
        for tag_id in [*add_tag_ids, *remove_tag_ids]:
            if tag_id not in state.tags or state.tags[tag_id].deleted:
                raise ActionError(f"unknown tag {tag_id}")
        if remark is not None:
            follow.remark = remark
        if description is not None:
            follow.description = description
        if remark_mobiles is not None:
            follow.remark_mobiles = list(remark_mobiles)
        follow.tag_ids = [t for t in follow.tag_ids if t not in remove_tag_ids]
        follow.tag_ids += [t for t in add_tag_ids if t not in follow.tag_ids]
        if remark is None and description is None and not add_tag_ids and not remove_tag_ids:
            return
        contact_event(
            state, "edit_external_contact", {"UserID": userid, "ExternalUserID": external_userid}
        )


def hire(
    state: SimState, name: str | None = None, *, userid: str | None = None, department: int = 1
) -> str:
    with state.lock:
        if department not in state.departments:
            raise ActionError(f"no department {department}")
        member = add_member(state, name, userid=userid, department=[department])
        emit(
            state,
            "change_contact",
            "create_user",
            {
                "UserID": member.userid,
                "Name": member.name,
                "Department": str(department),
                "MainDepartment": department,
                "Position": member.position,
                "Status": 1,
            },
        )
        return member.userid


def resign(state: SimState, userid: str) -> None:
    """The member leaves the company: their customers and groups wait for inheritance."""
    with state.lock:
        active_member(state, userid)
        member = state.members[userid]
        member.status = RESIGNED
        member.resigned_at = state.now()
        for chat in state.groups.values():
            if chat.owner == userid:
                chat.status = 1
        emit(state, "change_contact", "delete_user", {"UserID": userid})
