"""Departments and members (protocol.md §3.1)."""

from typing import Any

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import BOTH, CONTACT, DIRECTORY, Params, api, integer, page
from siyu.connectors.wecom_sim.state import RESIGNED, Department, Member, SimState


def _subtree(state: SimState, params: Params) -> list[Department]:
    if params.get("id") in (None, ""):
        return sorted(state.departments.values(), key=lambda d: d.id)
    root = integer(params, "id", 1)
    if root not in state.departments:
        raise ApiError(60123, "invalid party id")
    ids = state.department_subtree(root)
    return [state.departments[i] for i in sorted(ids)]


@api("department/list", "GET", BOTH, list_field="department")
def department_list(state: SimState, params: Params) -> dict[str, Any]:
    return {
        "department": [
            {
                "id": d.id,
                "name": d.name,
                "name_en": d.name_en,
                "department_leader": d.department_leader,
                "parentid": d.parentid,
                "order": d.order,
            }
            for d in _subtree(state, params)
        ]
    }


@api("department/simplelist", "GET", BOTH, list_field="department_id")
def department_simplelist(state: SimState, params: Params) -> dict[str, Any]:
    return {
        "department_id": [
            {"id": d.id, "parentid": d.parentid, "order": d.order} for d in _subtree(state, params)
        ]
    }


def active_members(state: SimState) -> list[Member]:
    return [m for m in state.members.values() if m.status != RESIGNED]


def member_json(member: Member) -> dict[str, Any]:
    return {
        "userid": member.userid,
        "name": member.name,
        "department": member.department,
        "order": [0] * len(member.department),
        "position": member.position,
        "mobile": member.mobile,
        "gender": member.gender,
        "email": member.email,
        "biz_mail": "",
        "is_leader_in_dept": [0] * len(member.department),
        "direct_leader": [],
        "avatar": "",
        "thumb_avatar": "",
        "telephone": "",
        "alias": member.alias,
        "status": member.status,
        "address": "",
        "english_name": "",
        "open_userid": member.open_userid,
        "main_department": member.main_department,
        "extattr": {"attrs": []},
        "qr_code": "",
        "external_position": "",
        "external_profile": {"external_attr": []},
    }


def _department_members(state: SimState, params: Params) -> list[Member]:
    if params.get("department_id") in (None, ""):
        raise ApiError(60112, "department_id missing")
    department_id = integer(params, "department_id", 1)
    if department_id not in state.departments:
        raise ApiError(60123, "invalid party id")
    return [m for m in active_members(state) if department_id in m.department]


@api("user/simplelist", "GET", BOTH, list_field="userlist")
def user_simplelist(state: SimState, params: Params) -> dict[str, Any]:
    return {
        "userlist": [
            {
                "userid": m.userid,
                "name": m.name,
                "department": m.department,
                "open_userid": m.open_userid,
            }
            for m in _department_members(state, params)
        ]
    }


@api("user/list", "GET", BOTH, list_field="userlist")
def user_list(state: SimState, params: Params) -> dict[str, Any]:
    return {"userlist": [member_json(m) for m in _department_members(state, params)]}


@api("user/get", "GET", BOTH)
def user_get(state: SimState, params: Params) -> dict[str, Any]:
    userid = params.get("userid")
    if not userid:
        raise ApiError(41009, "userid missing")
    member = state.members.get(str(userid))
    if member is None or member.status == RESIGNED:
        raise ApiError(60111)
    return member_json(member)


@api("user/list_id", "POST", DIRECTORY, list_field="dept_user")
def user_list_id(state: SimState, params: Params) -> dict[str, Any]:
    limit = integer(params, "limit", 10_000)
    if not 1 <= limit <= 10_000:
        raise ApiError(40058, "limit must be 1..10000")
    rows = [
        {"userid": m.userid, "department": d}
        for m in sorted(active_members(state), key=lambda m: m.userid)
        for d in m.department
    ]
    chunk, next_cursor = page(rows, str(params.get("cursor") or ""), limit)
    return {"next_cursor": next_cursor, "dept_user": chunk}


@api("externalcontact/get_follow_user_list", "GET", CONTACT, list_field="follow_user")
def get_follow_user_list(state: SimState, _params: Params) -> dict[str, Any]:
    return {"follow_user": [m.userid for m in active_members(state) if m.customer_contact]}
