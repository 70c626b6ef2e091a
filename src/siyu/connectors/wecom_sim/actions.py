"""What people do in WeCom, and what WeCom then reports: each action changes the state and
queues the callback WeCom would push (protocol.md §4). API calls never come through here."""

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from siyu.connectors.wecom_sim.apis.contact_ways import way_members
from siyu.connectors.wecom_sim.apis.tags import delete_tags
from siyu.connectors.wecom_sim.callbacks import FieldValue, emit
from siyu.connectors.wecom_sim.seed import (
    add_contact,
    add_follow,
    add_group_chat,
    add_member,
    add_tag,
    add_tag_group,
)
from siyu.connectors.wecom_sim.state import (
    ChatMember,
    ContactWay,
    FollowInfo,
    GroupChat,
    PendingRequest,
    SimState,
    WelcomeCode,
)

RESIGNED = 5
CHINA = timezone(timedelta(hours=8))


class ActionError(Exception):
    """The action cannot happen (unknown ids, no such relation)."""


def _contact_event(state: SimState, change_type: str, fields: dict[str, FieldValue]) -> None:
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
            _contact_event(state, "add_half_external_contact", fields)
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
    _contact_event(state, "add_external_contact", fields)
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
        _active_member(state, userid)
        if external_userid and external_userid in state.contacts:
            contact = state.contacts[external_userid]
        else:
            contact = add_contact(state, name, external_userid=external_userid)
        if (userid, contact.external_userid) in state.follows:
            raise ActionError("already added")
        code = _befriend(state, userid, contact.external_userid, "", add_way, oper_userid=userid)
        return {"userid": userid, "external_userid": contact.external_userid, "welcome_code": code}


def _active_member(state: SimState, userid: str) -> None:
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
        _contact_event(
            state, "del_follow_user", {"UserID": userid, "ExternalUserID": external_userid}
        )


def staff_deletes_customer(state: SimState, userid: str, external_userid: str) -> None:
    with state.lock:
        _follow(state, userid, external_userid)
        del state.follows[(userid, external_userid)]
        _contact_event(
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
        _contact_event(
            state, "edit_external_contact", {"UserID": userid, "ExternalUserID": external_userid}
        )


# groups ------------------------------------------------------------------------------


def _chat(state: SimState, chat_id: str) -> GroupChat:
    chat = state.groups.get(chat_id)
    if chat is None:
        raise ActionError(f"no group {chat_id}")
    return chat


def create_group(state: SimState, owner: str, name: str, external_userids: list[str]) -> GroupChat:
    with state.lock:
        _active_member(state, owner)
        for external_userid in external_userids:
            if external_userid not in state.contacts:
                raise ActionError(f"no customer {external_userid}")
        chat = add_group_chat(state, owner, name, external_userids)
        emit(state, "change_external_chat", "create", {"ChatId": chat.chat_id})
        return chat


def _member_change(
    state: SimState, chat: GroupChat, detail: str, changed: list[str], scene: tuple[str, int]
) -> None:
    last = chat.member_version
    chat.member_version = state.new_member_version()
    fields: dict[str, FieldValue] = {
        "ChatId": chat.chat_id,
        "UpdateDetail": detail,
        scene[0]: scene[1],
        "MemChangeCnt": len(changed),
        "MemChangeList": changed,
        "LastMemVer": last,
        "CurMemVer": chat.member_version,
    }
    emit(state, "change_external_chat", "update", fields)


def join_group(
    state: SimState, chat_id: str, member_ids: list[str], *, join_scene: int = 3
) -> None:
    """Customers (wm…) or members (userids) join; join_scene 0 invited, 3 scanned the QR."""
    with state.lock:
        chat = _chat(state, chat_id)
        present = {m.userid for m in chat.members}
        joined = []
        for member_id in member_ids:
            if member_id in present:
                continue
            if member_id in state.contacts:
                kind = 2
            elif member_id in state.members:
                kind = 1
            else:
                raise ActionError(f"unknown member {member_id}")
            scene = 3 if join_scene == 3 else 1
            chat.members.append(
                ChatMember(member_id, kind, state.now_int(), scene, invitor=chat.owner)
            )
            joined.append(member_id)
        if joined:
            _member_change(state, chat, "add_member", joined, ("JoinScene", join_scene))


def leave_group(
    state: SimState, chat_id: str, member_ids: list[str], *, quit_scene: int = 0
) -> None:
    """Members leave (quit_scene 0) or are removed by the owner (1)."""
    with state.lock:
        chat = _chat(state, chat_id)
        left = [m.userid for m in chat.members if m.userid in member_ids and m.userid != chat.owner]
        chat.members = [m for m in chat.members if m.userid not in left]
        if left:
            _member_change(state, chat, "del_member", left, ("QuitScene", quit_scene))


def rename_group(state: SimState, chat_id: str, name: str) -> None:
    with state.lock:
        chat = _chat(state, chat_id)
        chat.name = name
        emit(
            state,
            "change_external_chat",
            "update",
            {"ChatId": chat.chat_id, "UpdateDetail": "change_name"},
        )


def dismiss_group(state: SimState, chat_id: str) -> None:
    with state.lock:
        _chat(state, chat_id)
        del state.groups[chat_id]
        emit(state, "change_external_chat", "dismiss", {"ChatId": chat_id})


# staff -------------------------------------------------------------------------------


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
        _active_member(state, userid)
        member = state.members[userid]
        member.status = RESIGNED
        member.resigned_at = state.now()
        for chat in state.groups.values():
            if chat.owner == userid:
                chat.status = 1
        emit(state, "change_contact", "delete_user", {"UserID": userid})


# mass messages -----------------------------------------------------------------------


def _quota(state: SimState) -> int:
    if state.config.monthly_mass_quota is not None:
        return state.config.monthly_mass_quota
    today = datetime.fromtimestamp(state.now(), tz=CHINA)
    return calendar.monthrange(today.year, today.month)[1]


def _month(timestamp: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(timestamp, tz=CHINA)
    return moment.year, moment.month


def _received_this_month(state: SimState, external_userid: str) -> int:
    this_month = _month(state.now())
    return sum(
        1
        for task in state.mass_tasks.values()
        for send in task.sends
        if send.external_userid == external_userid
        and send.status == 1
        and _month(send.send_time) == this_month
    )


def _not_a_friend(state: SimState, userid: str, external_userid: str) -> bool:
    follow = state.follows.get((userid, external_userid))
    return follow is None or follow.deleted_by_customer


def confirm_mass_message(state: SimState, msgid: str, userid: str) -> dict[str, int]:
    """The member taps send in the client: each recipient is sent, or fails with a reason."""
    with state.lock:
        task = state.mass_tasks.get(msgid)
        if task is None or userid not in task.tasks:
            raise ActionError("no such task for that member")
        if task.tasks[userid][0] == 2:
            raise ActionError("already sent")
        now = state.now_int()
        task.tasks[userid] = (2, now)
        counts = {"sent": 0, "not_friend": 0, "over_quota": 0}
        quota = _quota(state)
        for send in task.sends:
            if send.userid != userid:
                continue
            send.send_time = now
            if send.chat_id:
                send.status = 1 if send.chat_id in state.groups else 2
            elif _not_a_friend(state, userid, send.external_userid):
                send.status = 2
            elif _received_this_month(state, send.external_userid) >= quota:
                send.status = 3
            else:
                send.status = 1
            key = {1: "sent", 2: "not_friend", 3: "over_quota"}[send.status]
            counts[key] += 1
        return counts


# corp tags edited in the admin console --------------------------------------------------


def _tag_event(state: SimState, change_type: str, item_id: str, tag_type: str) -> None:
    emit(state, "change_external_tag", change_type, {"Id": item_id, "TagType": tag_type})


def admin_creates_tags(
    state: SimState, group_name: str, tag_names: list[str], *, group_id: str | None = None
) -> dict[str, object]:
    with state.lock:
        if group_id:
            group = state.tag_groups.get(group_id)
            if group is None or group.deleted:
                raise ActionError(f"no tag group {group_id}")
            tags = [add_tag(state, group, n) for n in tag_names]
        else:
            group = add_tag_group(state, group_name, tag_names)
            tags = [state.tags[t] for t in group.tag_ids]
            _tag_event(state, "create", group.group_id, "tag_group")
        for tag in tags:
            _tag_event(state, "create", tag.id, "tag")
        return {"group_id": group.group_id, "tag_ids": [t.id for t in tags]}


def admin_renames(state: SimState, item_id: str, name: str) -> None:
    with state.lock:
        if item_id in state.tag_groups and not state.tag_groups[item_id].deleted:
            state.tag_groups[item_id].group_name = name
            _tag_event(state, "update", item_id, "tag_group")
        elif item_id in state.tags and not state.tags[item_id].deleted:
            state.tags[item_id].name = name
            _tag_event(state, "update", item_id, "tag")
        else:
            raise ActionError(f"no tag or group {item_id}")


def admin_deletes(state: SimState, item_id: str) -> None:
    """Deleting a group fires one delete for the group only, not one per tag."""
    with state.lock:
        if item_id in state.tag_groups and not state.tag_groups[item_id].deleted:
            delete_tags(state, [], [item_id])
            _tag_event(state, "delete", item_id, "tag_group")
        elif item_id in state.tags and not state.tags[item_id].deleted:
            delete_tags(state, [item_id], [])
            _tag_event(state, "delete", item_id, "tag")
        else:
            raise ActionError(f"no tag or group {item_id}")


def admin_reorders(state: SimState, group_id: str) -> None:
    """Reverse the order of a group's tags (the admin dragged them around)."""
    with state.lock:
        group = state.tag_groups.get(group_id)
        if group is None or group.deleted:
            raise ActionError(f"no tag group {group_id}")
        orders = [state.tags[t].order for t in group.tag_ids]
        for tag_id, order in zip(group.tag_ids, reversed(orders), strict=True):
            state.tags[tag_id].order = order
        emit(state, "change_external_tag", "shuffle", {"Id": group_id})


# inheritance -----------------------------------------------------------------------------


def settle_transfers(state: SimState) -> None:
    """Finish every transfer whose takeover time has passed (the 24 h wait)."""
    with state.lock:
        now = state.now()
        for transfer in state.transfers:
            if transfer.status != 2 or transfer.takeover_time > now:
                continue
            transfer.status = transfer.outcome
            key = (transfer.handover_userid, transfer.external_userid)
            if transfer.outcome != 1:
                reason = "customer_refused" if transfer.outcome == 3 else "customer_limit_exceed"
                _contact_event(
                    state,
                    "transfer_fail",
                    {
                        "UserID": transfer.takeover_userid,
                        "ExternalUserID": transfer.external_userid,
                        "FailReason": reason,
                    },
                )
                continue
            old = state.follows.pop(key, None)
            if transfer.kind == "onjob" and old is not None:
                _contact_event(
                    state,
                    "del_external_contact",
                    {
                        "UserID": transfer.handover_userid,
                        "ExternalUserID": transfer.external_userid,
                        "Source": "DELETE_BY_TRANSFER",
                    },
                )
            if (transfer.takeover_userid, transfer.external_userid) in state.follows:
                continue
            follow = add_follow(
                state,
                transfer.takeover_userid,
                transfer.external_userid,
                add_way=202,
                state_value=old.state if old else "",
                tag_ids=old.tag_ids if old else [],
                remark=old.remark if old else "",
            )
            follow.oper_userid = transfer.handover_userid
            _contact_event(
                state,
                "add_external_contact",
                {"UserID": transfer.takeover_userid, "ExternalUserID": transfer.external_userid},
            )


def decide_transfer(state: SimState, external_userid: str, outcome: int) -> None:
    """Decide how the waiting transfer of a customer will end: 1 done, 3 refused, 4 limit."""
    with state.lock:
        waiting = [
            t for t in state.transfers if t.external_userid == external_userid and t.status == 2
        ]
        if not waiting or outcome not in (1, 3, 4):
            raise ActionError("no waiting transfer for that customer, or a bad outcome")
        for transfer in waiting:
            transfer.outcome = outcome
