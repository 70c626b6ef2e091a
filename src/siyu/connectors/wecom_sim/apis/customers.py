"""Customers and the member–customer relation (protocol.md §3.2)."""

from typing import Any

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import (
    CONTACT,
    Params,
    api,
    decode_cursor,
    encode_cursor,
    integer,
    optional_text,
    page,
    string_list,
    text,
)
from siyu.connectors.wecom_sim.state import (
    RESIGNED,
    ExternalContact,
    FollowInfo,
    Member,
    SimState,
)

FOLLOW_PAGE = 500


def contact_member(state: SimState, userid: str) -> Member:
    member = state.members.get(userid)
    if member is None or member.status == RESIGNED:
        raise ApiError(40003)
    if not member.customer_contact:
        raise ApiError(84074)
    return member


def external_contact(state: SimState, external_userid: str) -> ExternalContact:
    contact = state.contacts.get(external_userid)
    if contact is None:
        raise ApiError(40096)
    return contact


def follow_of(state: SimState, userid: str, external_userid: str) -> FollowInfo:
    follow = state.follows.get((userid, external_userid))
    if follow is None:
        raise ApiError(84061)
    return follow


def contact_json(contact: ExternalContact) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_userid": contact.external_userid,
        "name": contact.name,
        "type": contact.type,
        "avatar": contact.avatar,
        "gender": contact.gender,
        "unionid": contact.unionid,
    }
    if contact.type == 2:
        body.update(
            position=contact.position,
            corp_name=contact.corp_name,
            corp_full_name=contact.corp_full_name,
            external_profile={"external_attr": []},
        )
    return body


def _follow_common(follow: FollowInfo) -> dict[str, Any]:
    body: dict[str, Any] = {
        "userid": follow.userid,
        "remark": follow.remark,
        "description": follow.description,
        "createtime": follow.createtime,
        "remark_corp_name": follow.remark_corp_name,
        "remark_mobiles": follow.remark_mobiles,
        "oper_userid": follow.oper_userid,
        "add_way": follow.add_way,
    }
    if follow.state:
        body["state"] = follow.state
    return body


def live_tag_ids(state: SimState, follow: FollowInfo) -> list[str]:
    return [t for t in follow.tag_ids if t in state.tags and not state.tags[t].deleted]


def follow_user_json(state: SimState, follow: FollowInfo) -> dict[str, Any]:
    tags = []
    for tag_id in live_tag_ids(state, follow):
        tag = state.tags[tag_id]
        group = state.tag_groups[tag.group_id]
        tags.append(
            {"group_name": group.group_name, "tag_name": tag.name, "tag_id": tag.id, "type": 1}
        )
    return {**_follow_common(follow), "tags": tags}


def follow_info_json(state: SimState, follow: FollowInfo) -> dict[str, Any]:
    return {**_follow_common(follow), "tag_id": live_tag_ids(state, follow)}


@api("externalcontact/list", "GET", CONTACT, list_field="external_userid")
def customer_list(state: SimState, params: Params) -> dict[str, Any]:
    userid = text(params, "userid", 40003)
    contact_member(state, userid)
    follows = sorted(state.follows_of_member(userid), key=lambda f: f.createtime)
    if not follows:
        raise ApiError(84061)
    return {"external_userid": [f.external_userid for f in follows]}


@api("externalcontact/get", "GET", CONTACT)
def customer_get(state: SimState, params: Params) -> dict[str, Any]:
    contact = external_contact(state, text(params, "external_userid", 41035))
    follows = sorted(state.follows_of_contact(contact.external_userid), key=lambda f: f.createtime)
    if not follows:
        raise ApiError(84061)
    chunk, next_cursor = page(follows, str(params.get("cursor") or ""), FOLLOW_PAGE)
    body: dict[str, Any] = {
        "external_contact": contact_json(contact),
        "follow_user": [follow_user_json(state, f) for f in chunk],
    }
    if next_cursor:
        body["next_cursor"] = next_cursor
    return body


def _member_page(
    state: SimState, userids: list[str], start: int, limit: int
) -> tuple[list[FollowInfo], str]:
    """The members' relations in order (member, add time), `limit` from offset `start`;
    only the members the page touches are sorted."""
    rows: list[FollowInfo] = []
    skip = start
    total = 0
    for userid in userids:
        count = len(state.follows.by_member.get(userid, {}))
        total += count
        if len(rows) >= limit:
            continue
        if skip >= count:
            skip -= count
            continue
        ordered = sorted(
            state.follows_of_member(userid), key=lambda f: (f.createtime, f.external_userid)
        )
        rows.extend(ordered[skip : skip + limit - len(rows)])
        skip = 0
    end = start + len(rows)
    return rows, (encode_cursor(end) if end < total else "")


@api("externalcontact/batch/get_by_user", "POST", CONTACT, list_field="external_contact_list")
def batch_get_by_user(state: SimState, params: Params) -> dict[str, Any]:
    userids = string_list(params, "userid_list")
    if not userids:
        raise ApiError(40003, "userid_list missing")
    if len(userids) > 100:
        raise ApiError(81017, "userid_list holds more than 100 userids")
    for userid in userids:
        contact_member(state, userid)
    limit = integer(params, "limit", 50)
    limit = 50 if limit <= 0 else min(limit, 100)
    chunk, next_cursor = _member_page(
        state, list(dict.fromkeys(userids)), decode_cursor(str(params.get("cursor") or "")), limit
    )
    return {
        "external_contact_list": [
            {
                "external_contact": contact_json(state.contacts[f.external_userid]),
                "follow_info": follow_info_json(state, f),
            }
            for f in chunk
        ],
        "next_cursor": next_cursor,
    }


@api("externalcontact/remark", "POST", CONTACT)
def remark(state: SimState, params: Params) -> dict[str, Any]:
    userid = text(params, "userid", 40003)
    external_userid = text(params, "external_userid", 41035)
    contact_member(state, userid)
    contact = external_contact(state, external_userid)
    follow = follow_of(state, userid, external_userid)
    new_remark = optional_text(params, "remark", max_len=20)
    description = optional_text(params, "description", max_len=150)
    company = optional_text(params, "remark_company", max_len=20)
    mobiles = params.get("remark_mobiles")
    if mobiles is not None and (
        not isinstance(mobiles, list) or not all(isinstance(m, str) for m in mobiles)
    ):
        raise ApiError(40058, "remark_mobiles must be a list of strings")
    if new_remark is not None:
        follow.remark = new_remark
    if description is not None:
        follow.description = description
    if company is not None and contact.type == 1:
        follow.remark_corp_name = company
    if mobiles is not None:
        follow.remark_mobiles = list(mobiles)
    return {}
