"""Customer groups change: created, joined, left, renamed, dismissed."""

from siyu.connectors.wecom_sim.actions import ActionError, active_member
from siyu.connectors.wecom_sim.callbacks import FieldValue, emit
from siyu.connectors.wecom_sim.seed import add_group_chat
from siyu.connectors.wecom_sim.state import ChatMember, GroupChat, SimState


def _chat(state: SimState, chat_id: str) -> GroupChat:
    chat = state.groups.get(chat_id)
    if chat is None:
        raise ActionError(f"no group {chat_id}")
    return chat


def create_group(state: SimState, owner: str, name: str, external_userids: list[str]) -> GroupChat:
    with state.lock:
        active_member(state, owner)
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


def _detail_change(state: SimState, chat: GroupChat, detail: str) -> None:
    emit(
        state,
        "change_external_chat",
        "update",
        {"ChatId": chat.chat_id, "UpdateDetail": detail},
    )


def rename_group(state: SimState, chat_id: str, name: str) -> None:
    with state.lock:
        chat = _chat(state, chat_id)
        chat.name = name
        _detail_change(state, chat, "change_name")


def change_notice(state: SimState, chat_id: str, notice: str) -> None:
    with state.lock:
        chat = _chat(state, chat_id)
        chat.notice = notice
        _detail_change(state, chat, "change_notice")


def change_owner(state: SimState, chat_id: str, userid: str, *, status: int = 0) -> None:
    """The group gets a new owner, who joins it if not already in; `status` is its
    groupchat/list status afterwards (3 when it was inherited from a resigned owner)."""
    with state.lock:
        chat = _chat(state, chat_id)
        active_member(state, userid)
        if userid not in {m.userid for m in chat.members}:
            chat.members.append(ChatMember(userid, 1, state.now_int(), 1, invitor=chat.owner))
        chat.owner = userid
        chat.status = status
        _detail_change(state, chat, "change_owner")


def dismiss_group(state: SimState, chat_id: str) -> None:
    with state.lock:
        _chat(state, chat_id)
        del state.groups[chat_id]
        emit(state, "change_external_chat", "dismiss", {"ChatId": chat_id})
