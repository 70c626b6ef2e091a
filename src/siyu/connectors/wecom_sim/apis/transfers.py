"""On-job and resigned inheritance of customers and of customer groups (protocol.md §3.8).

The errcode for "too many transfers" (a customer or chat twice in 90 days, a member's 300
chats a day) is not in protocol.md or the docs; TOO_MANY_TRANSFERS is ours.
"""

from typing import Any, Literal

from siyu.connectors.wecom_sim.chat_actions import change_owner
from siyu.connectors.wecom_sim.errors import MESSAGES, ApiError
from siyu.connectors.wecom_sim.registry import (
    CONTACT,
    Params,
    api,
    encode_cursor,
    integer,
    page,
    string_list,
    text,
)
from siyu.connectors.wecom_sim.state import (
    RESIGNED,
    ChatTransfer,
    GroupChat,
    Member,
    SimState,
    Transfer,
)

DAY = 24 * 3600
TOO_MANY_TRANSFERS = 40129
ALREADY_TRANSFERRING = 40100


def _member(state: SimState, params: Params, name: str) -> Member:
    userid = text(params, name, 40003)
    member = state.members.get(userid)
    if member is None:
        raise ApiError(40003, name)
    return member


def _start(state: SimState, params: Params, kind: Literal["onjob", "resigned"]) -> dict[str, Any]:
    handover = _member(state, params, "handover_userid")
    takeover = _member(state, params, "takeover_userid")
    if kind == "resigned" and handover.status != RESIGNED:
        raise ApiError(40097)
    if kind == "onjob" and handover.status == RESIGNED:
        raise ApiError(40003, "handover_userid has resigned")
    if takeover.status != 1:
        raise ApiError(40098)
    if not takeover.customer_contact:
        raise ApiError(84074)
    external_userids = string_list(params, "external_userid")
    if not external_userids:
        raise ApiError(41035)
    if len(external_userids) > 100:
        raise ApiError(81017, "at most 100 customers per call")
    now = state.now()
    window = state.config.transfer_window_days * DAY
    results = []
    for external_userid in external_userids:
        errcode = 0
        pending = any(
            t.external_userid == external_userid
            and t.handover_userid == handover.userid
            and t.status == 2
            for t in state.transfers
        )
        recent = sum(
            1
            for t in state.transfers
            if t.kind == "onjob"
            and t.external_userid == external_userid
            and t.started_at > now - window
        )
        if external_userid not in state.contacts:
            errcode = 40096
        elif (handover.userid, external_userid) not in state.follows:
            errcode = 84061
        elif pending:
            errcode = ALREADY_TRANSFERRING
        elif kind == "onjob" and recent >= state.config.transfers_per_window:
            errcode = TOO_MANY_TRANSFERS
        if errcode == 0:
            state.transfers.append(
                Transfer(
                    kind,
                    handover.userid,
                    takeover.userid,
                    external_userid,
                    now,
                    int(now) + state.config.transfer_delay,
                )
            )
        results.append({"external_userid": external_userid, "errcode": errcode})
    return {"customer": results}


def _result(state: SimState, params: Params, kind: Literal["onjob", "resigned"]) -> dict[str, Any]:
    handover = text(params, "handover_userid", 40003)
    takeover = text(params, "takeover_userid", 40003)
    rows = [
        t
        for t in state.transfers
        if t.kind == kind and t.handover_userid == handover and t.takeover_userid == takeover
    ]
    chunk, next_cursor = page(rows, str(params.get("cursor") or ""), 1000)
    return {
        "customer": [
            {
                "external_userid": t.external_userid,
                "status": t.status,
                "takeover_time": t.takeover_time,
            }
            for t in chunk
        ],
        "next_cursor": next_cursor,
    }


@api("externalcontact/transfer_customer", "POST", CONTACT, list_field="customer")
def transfer_customer(state: SimState, params: Params) -> dict[str, Any]:
    message = params.get("transfer_success_msg")
    if message is not None and (not isinstance(message, str) or len(message) > 200):
        raise ApiError(40058, "transfer_success_msg is at most 200 chars")
    return _start(state, params, "onjob")


@api("externalcontact/transfer_result", "POST", CONTACT, list_field="customer")
def transfer_result(state: SimState, params: Params) -> dict[str, Any]:
    return _result(state, params, "onjob")


@api("externalcontact/resigned/transfer_customer", "POST", CONTACT, list_field="customer")
def resigned_transfer_customer(state: SimState, params: Params) -> dict[str, Any]:
    return _start(state, params, "resigned")


@api("externalcontact/resigned/transfer_result", "POST", CONTACT, list_field="customer")
def resigned_transfer_result(state: SimState, params: Params) -> dict[str, Any]:
    return _result(state, params, "resigned")


@api("externalcontact/get_unassigned_list", "POST", CONTACT, list_field="info")
def get_unassigned_list(state: SimState, params: Params) -> dict[str, Any]:
    page_size = integer(params, "page_size", 1000)
    page_size = 1000 if page_size <= 0 else min(page_size, 1000)
    in_transfer = {(t.handover_userid, t.external_userid) for t in state.transfers if t.status == 2}
    rows = [
        (member, follow)
        for member in sorted(state.members.values(), key=lambda m: m.userid)
        if member.status == RESIGNED
        for follow in sorted(
            state.follows_of_member(member.userid), key=lambda f: f.external_userid
        )
        if (member.userid, follow.external_userid) not in in_transfer
    ]
    cursor = str(params.get("cursor") or "")
    if not cursor and params.get("page_id"):
        cursor = encode_cursor(integer(params, "page_id", 0) * page_size)
    chunk, next_cursor = page(rows, cursor, page_size)
    return {
        "info": [
            {
                "handover_userid": m.userid,
                "external_userid": f.external_userid,
                "dimission_time": int(m.resigned_at or 0),
            }
            for m, f in chunk
        ],
        "is_last": not next_cursor,
        "next_cursor": next_cursor,
    }


# -- customer groups (分配在职 / 离职成员的客户群) --------------------------------------

CHATS_PER_CALL = 100
CHINA_OFFSET = 8 * 3600


def _china_day(timestamp: float) -> int:
    return int((timestamp + CHINA_OFFSET) // DAY)


def _chat_refusal(
    state: SimState, chat_id: str, new_owner: str, kind: Literal["onjob", "resigned"]
) -> int:
    """Why WeCom would not hand this chat to `new_owner` (0: it would)."""
    chat = state.groups.get(chat_id)
    if chat is None:
        return 90501
    if chat.owner == new_owner:
        return 90504
    return _owner_refusal(state, chat, kind) or _count_refusal(state, chat, kind)


def _owner_refusal(state: SimState, chat: GroupChat, kind: Literal["onjob", "resigned"]) -> int:
    owner = state.members.get(chat.owner)
    resigned = owner is None or owner.status == RESIGNED
    if kind == "onjob":
        return 90502 if resigned else 0
    if chat.status == 3:
        return 90508
    return 0 if resigned else 90500


def _count_refusal(state: SimState, chat: GroupChat, kind: Literal["onjob", "resigned"]) -> int:
    now = state.now()
    window = state.config.transfer_window_days * DAY
    recent = sum(
        1
        for t in state.chat_transfers
        if t.kind == "onjob" and t.chat_id == chat.chat_id and t.at > now - window
    )
    today = _china_day(now)
    handed_today = sum(
        1
        for t in state.chat_transfers
        if t.handover_userid == chat.owner and _china_day(t.at) == today
    )
    over_window = kind == "onjob" and recent >= state.config.transfers_per_window
    if over_window or handed_today >= state.config.chat_transfers_per_day:
        return TOO_MANY_TRANSFERS
    return 0


def _transfer_chats(
    state: SimState, params: Params, kind: Literal["onjob", "resigned"]
) -> dict[str, Any]:
    chat_ids = string_list(params, "chat_id_list")
    if not 1 <= len(chat_ids) <= CHATS_PER_CALL:
        raise ApiError(40058, "chat_id_list holds 1 to 100 chats")
    new_owner = _member(state, params, "new_owner")
    if new_owner.status != 1:
        raise ApiError(40098)
    if not new_owner.customer_contact:
        raise ApiError(84074)
    failed = []
    for chat_id in dict.fromkeys(chat_ids):
        errcode = _chat_refusal(state, chat_id, new_owner.userid, kind)
        if errcode:
            failed.append({"chat_id": chat_id, "errcode": errcode, "errmsg": MESSAGES[errcode]})
            continue
        chat = state.groups[chat_id]
        state.chat_transfers.append(
            ChatTransfer(kind, chat_id, chat.owner, new_owner.userid, state.now())
        )
        # The group itself shows the new owner at once; its members see the change.
        change_owner(state, chat_id, new_owner.userid, status=3 if kind == "resigned" else 0)
    return {"failed_chat_list": failed}


@api("externalcontact/groupchat/transfer", "POST", CONTACT, list_field="failed_chat_list")
def groupchat_transfer(state: SimState, params: Params) -> dict[str, Any]:
    """Chats whose owner resigned go to a new owner (离职继承)."""
    return _transfer_chats(state, params, "resigned")


@api("externalcontact/groupchat/onjob_transfer", "POST", CONTACT, list_field="failed_chat_list")
def groupchat_onjob_transfer(state: SimState, params: Params) -> dict[str, Any]:
    """Chats of a member in service go to a new owner (在职继承), twice per chat in 90 days."""
    return _transfer_chats(state, params, "onjob")
