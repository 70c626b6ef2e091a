"""Mass messages to customers (protocol.md §3.6): tasks wait for each member to confirm."""

from typing import Any

from siyu.connectors.wecom_sim.apis.contact_ways import check_message
from siyu.connectors.wecom_sim.apis.media import find_media
from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import (
    CONTACT,
    Params,
    api,
    integer,
    page,
    string_list,
    text,
)
from siyu.connectors.wecom_sim.state import RESIGNED, MassSend, MassTask, SimState

MAX_CUSTOMERS = 10_000
MAX_CHATS = 2000
MONTH = 31 * 24 * 3600


def _tag_filter(state: SimState, params: Params) -> list[list[str]]:
    raw = params.get("tag_filter") or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("group_list", []), list):
        raise ApiError(40058, "invalid tag_filter")
    groups = []
    for group in raw.get("group_list", []):
        if not isinstance(group, dict):
            raise ApiError(40058, "invalid tag_filter")
        tag_ids = string_list(group, "tag_list")
        for tag_id in tag_ids:
            if tag_id not in state.tags:
                raise ApiError(40068)
        if tag_ids:
            groups.append(tag_ids)
    return groups


def _single(state: SimState, task: MassTask, params: Params, sender: str | None) -> list[str]:
    """Pick the member for each customer: the sender, or the member who added them last."""
    wanted = string_list(params, "external_userid")
    if len(wanted) > MAX_CUSTOMERS:
        raise ApiError(81017, "at most 10000 external_userid")
    if not wanted and not sender:
        raise ApiError(40058, "sender and external_userid both empty")
    tag_groups = _tag_filter(state, params)
    if not wanted:
        wanted = [f.external_userid for f in state.follows_of_member(str(sender))]
    fail_list = []
    for external_userid in dict.fromkeys(wanted):
        follows = [
            f
            for f in state.follows_of_contact(external_userid)
            if state.members[f.userid].status != RESIGNED and (sender is None or f.userid == sender)
        ]
        follows = [f for f in follows if all(set(group) & set(f.tag_ids) for group in tag_groups)]
        if not follows:
            fail_list.append(external_userid)
            continue
        follow = max(follows, key=lambda f: f.createtime)
        task.sends.append(MassSend(follow.userid, external_userid=external_userid))
    return fail_list


def _check_media(state: SimState, attachments: list[dict[str, object]]) -> None:
    """Every media id an attachment names must be a live upload (three days), else 40007."""
    for attachment in attachments:
        body = attachment[str(attachment["msgtype"])]
        assert isinstance(body, dict)
        media_id = body.get(
            "pic_media_id" if attachment["msgtype"] == "miniprogram" else "media_id"
        )
        if attachment["msgtype"] == "link" or (attachment["msgtype"] == "image" and not media_id):
            continue
        if not isinstance(media_id, str) or find_media(state, media_id) is None:
            raise ApiError(40007, f"invalid media_id in a {attachment['msgtype']} attachment")


def _group(state: SimState, task: MassTask, params: Params, sender: str) -> None:
    chat_ids = string_list(params, "chat_id_list")
    if len(chat_ids) > MAX_CHATS:
        raise ApiError(81017, "at most 2000 chat_id_list")
    chats = (
        [state.groups[c] for c in chat_ids if c in state.groups]
        if chat_ids
        else [c for c in state.groups.values() if c.owner == sender]
    )
    for chat in chats:
        if chat.owner == sender:
            task.sends.append(MassSend(sender, chat_id=chat.chat_id))


@api("externalcontact/add_msg_template", "POST", CONTACT, list_field="fail_list")
def add_msg_template(state: SimState, params: Params) -> dict[str, Any]:
    chat_type = params.get("chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise ApiError(40058, "chat_type is single or group")
    sender = params.get("sender") or None
    if sender is not None:
        member = state.members.get(str(sender))
        if member is None or member.status == RESIGNED:
            raise ApiError(40003, "sender")
    text_obj, attachments = check_message(params)
    _check_media(state, attachments)
    task = MassTask(
        msgid=state.new_msgid(),
        creator=str(sender or ""),
        create_type=0,
        chat_type=str(chat_type),
        create_time=state.now_int(),
        text=text_obj,
        attachments=attachments,
    )
    fail_list: list[str] = []
    if chat_type == "single":
        fail_list = _single(state, task, params, str(sender) if sender else None)
    elif not sender:
        raise ApiError(40058, "sender is required for group messages")
    else:
        _group(state, task, params, str(sender))
    if not task.sends:
        raise ApiError(41048, fail_list=fail_list)
    task.tasks = {s.userid: (0, 0) for s in task.sends}
    state.mass_tasks[task.msgid] = task
    return {"msgid": task.msgid, "fail_list": fail_list}


@api("externalcontact/get_groupmsg_list_v2", "POST", CONTACT, list_field="group_msg_list")
def get_groupmsg_list_v2(state: SimState, params: Params) -> dict[str, Any]:
    chat_type = params.get("chat_type")
    if chat_type not in ("single", "group"):
        raise ApiError(40058, "chat_type is single or group")
    if "start_time" not in params or "end_time" not in params:
        raise ApiError(40058, "start_time and end_time are required")
    start = integer(params, "start_time", 0)
    end = integer(params, "end_time", 0)
    if end < start or end - start > MONTH:
        raise ApiError(40058, "the time span is at most one month")
    creator = params.get("creator")
    filter_type = integer(params, "filter_type", 2)
    limit = integer(params, "limit", 50)
    limit = 50 if limit <= 0 else min(limit, 100)
    tasks = sorted(
        (
            t
            for t in state.mass_tasks.values()
            if t.chat_type == chat_type
            and start <= t.create_time <= end
            and (not creator or t.creator == creator)
            and filter_type in (2, t.create_type)
        ),
        key=lambda t: (t.create_time, t.msgid),
    )
    chunk, next_cursor = page(tasks, str(params.get("cursor") or ""), limit)
    return {
        "group_msg_list": [
            {
                "msgid": t.msgid,
                "creator": t.creator,
                "create_time": t.create_time,
                "create_type": t.create_type,
                "text": t.text,
                "attachments": t.attachments,
            }
            for t in chunk
        ],
        "next_cursor": next_cursor,
    }


def _task(state: SimState, params: Params) -> MassTask:
    msgid = params.get("msgid")
    if not msgid:
        raise ApiError(41046)
    task = state.mass_tasks.get(str(msgid))
    if task is None:
        raise ApiError(41047)
    if state.now() - task.create_time < state.config.groupmsg_dispatch_seconds:
        raise ApiError(41063)
    return task


def _limit(params: Params) -> int:
    limit = integer(params, "limit", 500)
    return 500 if limit <= 0 else min(limit, 1000)


@api("externalcontact/get_groupmsg_task", "POST", CONTACT, list_field="task_list")
def get_groupmsg_task(state: SimState, params: Params) -> dict[str, Any]:
    task = _task(state, params)
    rows = sorted(task.tasks.items())
    chunk, next_cursor = page(rows, str(params.get("cursor") or ""), _limit(params))
    return {
        "task_list": [
            {"userid": userid, "status": status, "send_time": send_time}
            for userid, (status, send_time) in chunk
        ],
        "next_cursor": next_cursor,
    }


@api("externalcontact/get_groupmsg_send_result", "POST", CONTACT, list_field="send_list")
def get_groupmsg_send_result(state: SimState, params: Params) -> dict[str, Any]:
    task = _task(state, params)
    userid = text(params, "userid", 40003)
    rows = [s for s in task.sends if s.userid == userid]
    chunk, next_cursor = page(rows, str(params.get("cursor") or ""), _limit(params))
    return {
        "send_list": [
            {
                "external_userid": s.external_userid,
                "chat_id": s.chat_id,
                "userid": s.userid,
                "status": s.status,
                "send_time": s.send_time,
            }
            for s in chunk
        ],
        "next_cursor": next_cursor,
    }


@api("externalcontact/remind_groupmsg_send", "POST", CONTACT)
def remind_groupmsg_send(state: SimState, params: Params) -> dict[str, Any]:
    task = _task(state, params)
    task.reminders += 1
    return {}


@api("externalcontact/cancel_groupmsg_send", "POST", CONTACT)
def cancel_groupmsg_send(state: SimState, params: Params) -> dict[str, Any]:
    """Members who have not sent yet can no longer send; sent messages stay sent."""
    task = _task(state, params)
    task.cancelled = True
    return {}
