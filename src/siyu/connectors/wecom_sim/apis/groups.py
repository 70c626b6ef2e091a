"""Customer groups (protocol.md §3.7)."""

from typing import Any

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import CONTACT, Params, api, integer, page, string_list
from siyu.connectors.wecom_sim.state import ChatMember, GroupChat, SimState


@api("externalcontact/groupchat/list", "POST", CONTACT, list_field="group_chat_list")
def groupchat_list(state: SimState, params: Params) -> dict[str, Any]:
    if "limit" not in params:
        raise ApiError(40058, "limit missing")
    limit = integer(params, "limit", 0)
    if not 1 <= limit <= 1000:
        raise ApiError(40058, "limit must be 1..1000")
    status_filter = integer(params, "status_filter", 0)
    if status_filter not in (0, 1, 2, 3):
        raise ApiError(40058, "invalid status_filter")
    owner_filter = params.get("owner_filter") or {}
    if not isinstance(owner_filter, dict):
        raise ApiError(40058, "owner_filter must be an object")
    owners = string_list(owner_filter, "userid_list")
    if len(owners) > 100:
        raise ApiError(81017, "owner_filter holds more than 100 userids")
    chats = sorted(
        (
            c
            for c in state.groups.values()
            if (not owners or c.owner in owners) and status_filter in (0, c.status)
        ),
        key=lambda c: (c.create_time, c.chat_id),
    )
    chunk, next_cursor = page(chats, str(params.get("cursor") or ""), limit)
    return {
        "group_chat_list": [{"chat_id": c.chat_id, "status": c.status} for c in chunk],
        "next_cursor": next_cursor,
    }


def member_json(state: SimState, member: ChatMember, *, need_name: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "userid": member.userid,
        "type": member.type,
        "join_time": member.join_time,
        "join_scene": member.join_scene,
        "group_nickname": member.group_nickname,
    }
    if member.invitor:
        body["invitor"] = {"userid": member.invitor}
    if member.type == 2:
        contact = state.contacts.get(member.userid)
        body["unionid"] = contact.unionid if contact else member.unionid
    if need_name:
        if member.type == 1 and member.userid in state.members:
            body["name"] = state.members[member.userid].name
        elif member.type == 2 and member.userid in state.contacts:
            body["name"] = state.contacts[member.userid].name
        else:
            body["name"] = member.name
    return body


def chat_of(state: SimState, chat_id: object) -> GroupChat:
    if not chat_id:
        raise ApiError(40050, "chat_id missing")
    chat = state.groups.get(str(chat_id))
    if chat is None:
        raise ApiError(40050)
    return chat


@api("externalcontact/groupchat/get", "POST", CONTACT)
def groupchat_get(state: SimState, params: Params) -> dict[str, Any]:
    chat = chat_of(state, params.get("chat_id"))
    need_name = integer(params, "need_name", 0) == 1
    return {
        "group_chat": {
            "chat_id": chat.chat_id,
            "name": chat.name,
            "owner": chat.owner,
            "create_time": chat.create_time,
            "notice": chat.notice,
            "member_list": [member_json(state, m, need_name=need_name) for m in chat.members],
            "admin_list": [{"userid": u} for u in chat.admin_list],
            "member_version": chat.member_version,
        }
    }
