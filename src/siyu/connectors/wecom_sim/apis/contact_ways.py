"""「联系我」 contact ways and the welcome message (protocol.md §3.4, §3.5)."""

from typing import Any

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import (
    CONTACT,
    Params,
    api,
    integer,
    optional_text,
    page,
    string_list,
)
from siyu.connectors.wecom_sim.state import ContactWay, SentWelcome, SimState

DAY = 24 * 3600
MAX_USERS = 100
MAX_WAYS = 500_000
TEXT_BYTES = 4000
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = {"image", "link", "miniprogram", "video", "file"}


def way_json(way: ContactWay) -> dict[str, Any]:
    body: dict[str, Any] = {
        "config_id": way.config_id,
        "type": way.type,
        "scene": way.scene,
        "style": way.style,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "user": way.user,
        "party": way.party,
        "is_temp": way.is_temp,
        "expires_in": way.expires_in,
        "chat_expires_in": way.chat_expires_in,
        "unionid": way.unionid,
        "conclusions": way.conclusions,
    }
    if way.scene == 2:
        body["qr_code"] = way.qr_code
    return body


def way_members(state: SimState, way: ContactWay) -> list[str]:
    """The staff a scan may reach: listed users, then members of the listed departments."""
    userids = list(way.user)
    for party in way.party:
        reach = state.department_subtree(party)
        for member in state.members.values():
            if (
                reach & set(member.department)
                and member.status == 1
                and member.userid not in userids
            ):
                userids.append(member.userid)
    return userids


def _check_reach(state: SimState, users: list[str], parties: list[int]) -> None:
    for userid in users:
        member = state.members.get(userid)
        if member is None or member.status != 1:
            raise ApiError(40003, userid)
        if not member.customer_contact:
            raise ApiError(84074)
    for party in parties:
        if party not in state.departments:
            raise ApiError(60123)


def _apply(state: SimState, way: ContactWay, params: Params) -> None:
    """The fields both add and update accept; checks before it changes anything."""
    remark = optional_text(params, "remark", max_len=30)
    way_state = optional_text(params, "state", max_len=30)
    users = string_list(params, "user") if "user" in params else way.user
    parties_raw = params.get("party", way.party)
    if not isinstance(parties_raw, list) or not all(isinstance(p, int) for p in parties_raw):
        raise ApiError(40058, "party must be a list of department ids")
    parties: list[int] = parties_raw
    _check_reach(state, users, parties)
    if way.type == 1 and (len(users) != 1 or parties):
        raise ApiError(40058, "a single-person contact way takes exactly one user")
    if way.type == 2 and not users and not parties:
        raise ApiError(40058, "user and party both empty")
    style = integer(params, "style", way.style)
    if way.scene == 1 and style and not 1 <= style <= (3 if way.type == 1 else 2):
        raise ApiError(41042)
    expires_in = integer(params, "expires_in", way.expires_in or (7 * DAY if way.is_temp else 0))
    chat_expires_in = integer(
        params, "chat_expires_in", way.chat_expires_in or (DAY if way.is_temp else 0)
    )
    if expires_in < 0 or expires_in > 14 * DAY or chat_expires_in < 0 or chat_expires_in > 14 * DAY:
        raise ApiError(40058, "expires_in and chat_expires_in are at most 14 days")
    conclusions = params.get("conclusions", way.conclusions)
    if not isinstance(conclusions, dict):
        raise ApiError(40058, "conclusions must be an object")
    skip_verify = params.get("skip_verify", way.skip_verify)
    if not isinstance(skip_verify, bool):
        raise ApiError(40058, "skip_verify must be a boolean")
    unionid = optional_text(params, "unionid")
    candidate = ContactWay(
        way.config_id, way.type, way.scene, way.create_time, user=users, party=parties
    )
    if len(way_members(state, candidate)) > MAX_USERS:
        raise ApiError(41041)
    way.user, way.party, way.style = users, parties, style
    way.expires_in, way.chat_expires_in = expires_in, chat_expires_in
    way.conclusions, way.skip_verify = conclusions, skip_verify
    if remark is not None:
        way.remark = remark
    if way_state is not None:
        way.state = way_state
    if unionid is not None:
        way.unionid = unionid


@api("externalcontact/add_contact_way", "POST", CONTACT)
def add_contact_way(state: SimState, params: Params) -> dict[str, Any]:
    if "type" not in params:
        raise ApiError(41037)
    if "scene" not in params:
        raise ApiError(41038)
    way_type = integer(params, "type", 0)
    scene = integer(params, "scene", 0)
    if way_type not in (1, 2):
        raise ApiError(41039)
    if scene not in (1, 2):
        raise ApiError(41040)
    is_temp = bool(params.get("is_temp", False))
    if is_temp and way_type != 1:
        raise ApiError(40058, "temporary contact ways are single-person only")
    if sum(1 for w in state.contact_ways.values() if not w.is_temp) >= MAX_WAYS:
        raise ApiError(41045)
    way = ContactWay(state.new_config_id(), way_type, scene, state.now_int(), is_temp=is_temp)
    _apply(state, way, params)
    if scene == 2:
        way.qr_code = f"{state.public_url}/sim/qr/{way.config_id}.png"
    state.contact_ways[way.config_id] = way
    body: dict[str, Any] = {"config_id": way.config_id}
    if scene == 2:
        body["qr_code"] = way.qr_code
    return body


def _way(state: SimState, params: Params) -> ContactWay:
    config_id = params.get("config_id")
    if not config_id:
        raise ApiError(41043)
    way = state.contact_ways.get(str(config_id))
    if way is None:
        raise ApiError(41044)
    return way


@api("externalcontact/get_contact_way", "POST", CONTACT)
def get_contact_way(state: SimState, params: Params) -> dict[str, Any]:
    return {"contact_way": way_json(_way(state, params))}


@api("externalcontact/update_contact_way", "POST", CONTACT)
def update_contact_way(state: SimState, params: Params) -> dict[str, Any]:
    _apply(state, _way(state, params), params)
    return {}


@api("externalcontact/del_contact_way", "POST", CONTACT)
def del_contact_way(state: SimState, params: Params) -> dict[str, Any]:
    del state.contact_ways[_way(state, params).config_id]
    return {}


@api("externalcontact/list_contact_way", "POST", CONTACT, list_field="contact_way")
def list_contact_way(state: SimState, params: Params) -> dict[str, Any]:
    now = state.now_int()
    end = integer(params, "end_time", now)
    start = integer(params, "start_time", end - 90 * DAY)
    limit = integer(params, "limit", 100)
    limit = 100 if limit <= 0 else min(limit, 1000)
    ways = sorted(
        (w for w in state.contact_ways.values() if start <= w.create_time <= end and not w.is_temp),
        key=lambda w: (w.create_time, w.config_id),
    )
    chunk, next_cursor = page(ways, str(params.get("cursor") or ""), limit)
    return {"contact_way": [{"config_id": w.config_id} for w in chunk], "next_cursor": next_cursor}


def check_message(params: Params) -> tuple[dict[str, object], list[dict[str, object]]]:
    text_obj = params.get("text") or {}
    attachments = params.get("attachments") or []
    if not isinstance(text_obj, dict) or not isinstance(attachments, list):
        raise ApiError(40058, "text must be an object and attachments a list")
    content = text_obj.get("content", "")
    if not isinstance(content, str):
        raise ApiError(40058, "text.content must be a string")
    if not content and not attachments:
        raise ApiError(44004)
    if len(content.encode()) > TEXT_BYTES:
        raise ApiError(45002, "text.content exceeds 4000 bytes")
    if len(attachments) > MAX_ATTACHMENTS:
        raise ApiError(40058, "at most 9 attachments")
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("msgtype") not in ATTACHMENT_TYPES:
            raise ApiError(40058, "invalid attachment msgtype")
        if not isinstance(attachment.get(attachment["msgtype"]), dict):
            raise ApiError(40058, f"attachment {attachment['msgtype']} body missing")
    return text_obj, attachments


@api("externalcontact/send_welcome_msg", "POST", CONTACT)
def send_welcome_msg(state: SimState, params: Params) -> dict[str, Any]:
    code = params.get("welcome_code")
    if not code:
        raise ApiError(41049)
    welcome = state.welcome_codes.get(str(code))
    if welcome is None or state.now() - welcome.issued_at > state.config.welcome_code_ttl:
        raise ApiError(41050)
    if welcome.used:
        raise ApiError(41051)
    text_obj, attachments = check_message(params)
    welcome.used = True
    state.welcome_messages.append(
        SentWelcome(
            welcome.code,
            welcome.userid,
            welcome.external_userid,
            text_obj,
            attachments,
            state.now(),
        )
    )
    return {}
