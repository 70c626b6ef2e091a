"""Control endpoints that play the people: customers, staff and admins acting in WeCom."""

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from siyu.connectors.wecom_sim import actions, chat_actions, tag_actions, task_actions
from siyu.connectors.wecom_sim.state import SimState

router = APIRouter()
T = TypeVar("T")


def _run(request: Request, action: Callable[[SimState], T]) -> T:
    state: SimState = request.app.state.sim
    try:
        return action(state)
    except actions.ActionError as exc:
        raise HTTPException(404, str(exc)) from exc


class ScanIn(BaseModel):
    config_id: str | None = None
    state: str | None = None
    external_userid: str | None = None
    name: str | None = None
    # Fire add_half_external_contact first; the member then confirms through /accept.
    half: bool = False


class PairIn(BaseModel):
    userid: str
    external_userid: str


class StaffAddsIn(BaseModel):
    userid: str
    external_userid: str | None = None
    name: str | None = None
    add_way: int = 2


class EditIn(PairIn):
    remark: str | None = None
    description: str | None = None
    remark_mobiles: list[str] | None = None
    add_tag: list[str] = Field(default_factory=list)
    remove_tag: list[str] = Field(default_factory=list)


class GroupCreateIn(BaseModel):
    owner: str
    name: str
    external_userids: list[str] = Field(default_factory=list)


class MembersIn(BaseModel):
    members: list[str]
    scene: int = 0


class NameIn(BaseModel):
    name: str


class HireIn(BaseModel):
    name: str | None = None
    userid: str | None = None
    department: int = 1


class ConfirmIn(BaseModel):
    msgid: str
    userid: str


class TagsCreateIn(BaseModel):
    group_name: str = ""
    group_id: str | None = None
    tags: list[str]


class TransferDecisionIn(BaseModel):
    external_userid: str
    outcome: int = Field(description="1 done, 3 customer refused, 4 takeover at customer limit")


@router.post("/scan")
def scan(body: ScanIn, request: Request) -> dict[str, object]:
    """A customer scans a live code (by config_id or by its state)."""
    if not body.config_id and not body.state:
        raise HTTPException(400, "config_id or state is required")
    return _run(
        request,
        lambda s: actions.scan(
            s,
            config_id=body.config_id,
            way_state=body.state,
            external_userid=body.external_userid,
            name=body.name,
            half=body.half,
        ),
    )


@router.post("/accept")
def accept(body: PairIn, request: Request) -> dict[str, object]:
    return _run(request, lambda s: actions.accept(s, body.userid, body.external_userid))


@router.post("/staff-adds-customer")
def staff_adds(body: StaffAddsIn, request: Request) -> dict[str, object]:
    return _run(
        request,
        lambda s: actions.staff_adds(
            s,
            body.userid,
            external_userid=body.external_userid,
            name=body.name,
            add_way=body.add_way,
        ),
    )


@router.post("/customer-deletes-staff")
def customer_deletes_staff(body: PairIn, request: Request) -> dict[str, bool]:
    _run(request, lambda s: actions.customer_deletes_staff(s, body.userid, body.external_userid))
    return {"ok": True}


@router.post("/staff-deletes-customer")
def staff_deletes_customer(body: PairIn, request: Request) -> dict[str, bool]:
    _run(request, lambda s: actions.staff_deletes_customer(s, body.userid, body.external_userid))
    return {"ok": True}


@router.post("/staff-edits-customer")
def staff_edits_customer(body: EditIn, request: Request) -> dict[str, bool]:
    _run(
        request,
        lambda s: actions.staff_edits_customer(
            s,
            body.userid,
            body.external_userid,
            remark=body.remark,
            description=body.description,
            remark_mobiles=body.remark_mobiles,
            add_tag_ids=body.add_tag,
            remove_tag_ids=body.remove_tag,
        ),
    )
    return {"ok": True}


@router.post("/groups")
def create_group(body: GroupCreateIn, request: Request) -> dict[str, str]:
    chat = _run(
        request,
        lambda s: chat_actions.create_group(s, body.owner, body.name, body.external_userids),
    )
    return {"chat_id": chat.chat_id}


@router.post("/groups/{chat_id}/join")
def join_group(chat_id: str, body: MembersIn, request: Request) -> dict[str, bool]:
    """`scene`: JoinScene, 0 invited by a member, 3 scanned the group QR code."""
    _run(
        request, lambda s: chat_actions.join_group(s, chat_id, body.members, join_scene=body.scene)
    )
    return {"ok": True}


@router.post("/groups/{chat_id}/leave")
def leave_group(chat_id: str, body: MembersIn, request: Request) -> dict[str, bool]:
    """`scene`: QuitScene, 0 left by themselves, 1 removed by the owner or an admin."""
    _run(
        request, lambda s: chat_actions.leave_group(s, chat_id, body.members, quit_scene=body.scene)
    )
    return {"ok": True}


@router.post("/groups/{chat_id}/rename")
def rename_group(chat_id: str, body: NameIn, request: Request) -> dict[str, bool]:
    _run(request, lambda s: chat_actions.rename_group(s, chat_id, body.name))
    return {"ok": True}


class NoticeIn(BaseModel):
    notice: str


class OwnerIn(BaseModel):
    userid: str


@router.post("/groups/{chat_id}/notice")
def change_notice(chat_id: str, body: NoticeIn, request: Request) -> dict[str, bool]:
    _run(request, lambda s: chat_actions.change_notice(s, chat_id, body.notice))
    return {"ok": True}


@router.post("/groups/{chat_id}/owner")
def change_owner(chat_id: str, body: OwnerIn, request: Request) -> dict[str, bool]:
    _run(request, lambda s: chat_actions.change_owner(s, chat_id, body.userid))
    return {"ok": True}


@router.post("/groups/{chat_id}/dismiss")
def dismiss_group(chat_id: str, request: Request) -> dict[str, bool]:
    _run(request, lambda s: chat_actions.dismiss_group(s, chat_id))
    return {"ok": True}


@router.post("/staff")
def hire(body: HireIn, request: Request) -> dict[str, str]:
    userid = _run(
        request,
        lambda s: actions.hire(s, body.name, userid=body.userid, department=body.department),
    )
    return {"userid": userid}


@router.post("/staff/{userid}/resign")
def resign(userid: str, request: Request) -> dict[str, bool]:
    _run(request, lambda s: actions.resign(s, userid))
    return {"ok": True}


@router.post("/groupmsg/confirm")
def confirm_mass_message(body: ConfirmIn, request: Request) -> dict[str, int]:
    return _run(request, lambda s: task_actions.confirm_mass_message(s, body.msgid, body.userid))


@router.post("/corp-tags")
def admin_creates_tags(body: TagsCreateIn, request: Request) -> dict[str, object]:
    if not body.tags or (not body.group_id and not body.group_name):
        raise HTTPException(400, "tags and group_name (or group_id) are required")
    return _run(
        request,
        lambda s: tag_actions.admin_creates_tags(
            s, body.group_name, body.tags, group_id=body.group_id
        ),
    )


@router.post("/corp-tags/{item_id}/rename")
def admin_renames(item_id: str, body: NameIn, request: Request) -> dict[str, bool]:
    _run(request, lambda s: tag_actions.admin_renames(s, item_id, body.name))
    return {"ok": True}


@router.post("/corp-tags/{item_id}/delete")
def admin_deletes(item_id: str, request: Request) -> dict[str, bool]:
    _run(request, lambda s: tag_actions.admin_deletes(s, item_id))
    return {"ok": True}


@router.post("/corp-tags/{group_id}/shuffle")
def admin_reorders(group_id: str, request: Request) -> dict[str, bool]:
    _run(request, lambda s: tag_actions.admin_reorders(s, group_id))
    return {"ok": True}


@router.post("/transfers/decide")
def decide_transfer(body: TransferDecisionIn, request: Request) -> dict[str, bool]:
    _run(request, lambda s: task_actions.decide_transfer(s, body.external_userid, body.outcome))
    return {"ok": True}


@router.post("/transfers/settle")
def settle_transfers(request: Request) -> dict[str, Any]:
    """Finish due transfers now (they also settle on every API call)."""
    _run(request, task_actions.settle_transfers)
    return {"ok": True}
