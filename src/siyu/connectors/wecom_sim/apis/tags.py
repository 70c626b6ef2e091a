"""Corp tags and tagging a customer (protocol.md §3.3). API changes push no callbacks."""

from typing import Any

from siyu.connectors.wecom_sim.apis.customers import contact_member, external_contact, follow_of
from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import CONTACT, Params, api, integer, string_list, text
from siyu.connectors.wecom_sim.seed import add_tag, add_tag_group
from siyu.connectors.wecom_sim.state import SimState, Tag, TagGroup

MAX_CORP_TAGS = 3000
NAME_LIMIT = 30


def tag_json(tag: Tag, *, with_deleted: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": tag.id,
        "name": tag.name,
        "create_time": tag.create_time,
        "order": tag.order,
    }
    if with_deleted:
        body["deleted"] = tag.deleted
    return body


def group_json(group: TagGroup, tags: list[Tag], *, with_deleted: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "group_id": group.group_id,
        "group_name": group.group_name,
        "create_time": group.create_time,
        "order": group.order,
        "tag": [tag_json(t, with_deleted=with_deleted) for t in tags],
    }
    if with_deleted:
        body["deleted"] = group.deleted
    return body


def _sorted_tags(tags: list[Tag]) -> list[Tag]:
    return sorted(tags, key=lambda t: (-t.order, t.create_time))


@api("externalcontact/get_corp_tag_list", "POST", CONTACT, list_field="tag_group")
def get_corp_tag_list(state: SimState, params: Params) -> dict[str, Any]:
    group_ids = string_list(params, "group_id")
    tag_ids = string_list(params, "tag_id")
    if group_ids:
        groups = [state.tag_groups[g] for g in group_ids if g in state.tag_groups]
        return {
            "tag_group": [
                group_json(
                    g,
                    _sorted_tags([state.tags[t] for t in g.tag_ids]),
                    with_deleted=True,
                )
                for g in groups
            ]
        }
    if tag_ids:
        wanted = [state.tags[t] for t in tag_ids if t in state.tags]
        by_group: dict[str, list[Tag]] = {}
        for tag in wanted:
            by_group.setdefault(tag.group_id, []).append(tag)
        return {
            "tag_group": [
                group_json(state.tag_groups[g], _sorted_tags(tags), with_deleted=True)
                for g, tags in by_group.items()
            ]
        }
    return {
        "tag_group": [
            group_json(
                g,
                _sorted_tags([state.tags[t] for t in g.tag_ids if not state.tags[t].deleted]),
                with_deleted=False,
            )
            for g in state.live_tag_groups()
        ]
    }


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ApiError(40058, "tag name missing")
    if len(name) > NAME_LIMIT:
        raise ApiError(40058, f"tag name exceeds {NAME_LIMIT} chars")
    return name


@api("externalcontact/add_corp_tag", "POST", CONTACT)
def add_corp_tag(state: SimState, params: Params) -> dict[str, Any]:
    raw_tags = params.get("tag")
    if not isinstance(raw_tags, list) or not raw_tags:
        raise ApiError(40058, "tag missing")
    wanted: list[tuple[str, int]] = []
    for raw in raw_tags:
        if not isinstance(raw, dict):
            raise ApiError(40058, "tag must be objects")
        wanted.append((_check_name(raw.get("name")), integer(raw, "order", 0)))
    live = sum(1 for t in state.tags.values() if not t.deleted)
    if live + len(wanted) > MAX_CORP_TAGS:
        raise ApiError(40058, f"a corp holds at most {MAX_CORP_TAGS} tags")
    group_id = params.get("group_id")
    group_name = params.get("group_name")
    group: TagGroup | None = None
    if group_id:
        group = state.tag_groups.get(str(group_id))
        if group is None or group.deleted:
            raise ApiError(40068, "invalid group_id")
    elif group_name:
        name = _check_name(group_name)
        group = next((g for g in state.live_tag_groups() if g.group_name == name), None)
    else:
        raise ApiError(40058, "group_id or group_name missing")
    names = [n for n, _ in wanted]
    if len(set(names)) != len(names):
        raise ApiError(40071)
    if group is not None:
        existing = {state.tags[t].name for t in group.tag_ids if not state.tags[t].deleted}
        if existing & set(names):
            raise ApiError(40071)
        created = [add_tag(state, group, n, order=o) for n, o in wanted]
    else:
        group = add_tag_group(state, str(group_name), [], order=integer(params, "order", 0))
        created = [add_tag(state, group, n, order=o) for n, o in wanted]
    return {"tag_group": group_json(group, created, with_deleted=False)}


@api("externalcontact/edit_corp_tag", "POST", CONTACT)
def edit_corp_tag(state: SimState, params: Params) -> dict[str, Any]:
    item_id = text(params, "id", 40068)
    name = params.get("name")
    if item_id in state.tag_groups and not state.tag_groups[item_id].deleted:
        group = state.tag_groups[item_id]
        if name is not None:
            new_name = _check_name(name)
            if any(g.group_name == new_name and g is not group for g in state.live_tag_groups()):
                raise ApiError(40071)
            group.group_name = new_name
        if "order" in params:
            group.order = integer(params, "order", group.order)
        return {}
    tag = state.tags.get(item_id)
    if tag is None or tag.deleted:
        raise ApiError(40068)
    if name is not None:
        new_name = _check_name(name)
        siblings = state.tag_groups[tag.group_id].tag_ids
        if any(
            state.tags[t].name == new_name and t != tag.id and not state.tags[t].deleted
            for t in siblings
        ):
            raise ApiError(40071)
        tag.name = new_name
    if "order" in params:
        tag.order = integer(params, "order", tag.order)
    return {}


def delete_tags(state: SimState, tag_ids: list[str], group_ids: list[str]) -> None:
    for group_id in group_ids:
        group = state.tag_groups[group_id]
        group.deleted = True
        for tag_id in group.tag_ids:
            state.tags[tag_id].deleted = True
    for tag_id in tag_ids:
        state.tags[tag_id].deleted = True
        group = state.tag_groups[state.tags[tag_id].group_id]
        if all(state.tags[t].deleted for t in group.tag_ids):
            group.deleted = True


@api("externalcontact/del_corp_tag", "POST", CONTACT)
def del_corp_tag(state: SimState, params: Params) -> dict[str, Any]:
    tag_ids = string_list(params, "tag_id")
    group_ids = string_list(params, "group_id")
    if not tag_ids and not group_ids:
        raise ApiError(40058, "tag_id and group_id both empty")
    for tag_id in tag_ids:
        if tag_id not in state.tags or state.tags[tag_id].deleted:
            raise ApiError(40068)
    for group_id in group_ids:
        if group_id not in state.tag_groups or state.tag_groups[group_id].deleted:
            raise ApiError(40068)
    delete_tags(state, tag_ids, group_ids)
    return {}


@api("externalcontact/mark_tag", "POST", CONTACT)
def mark_tag(state: SimState, params: Params) -> dict[str, Any]:
    userid = text(params, "userid", 40003)
    external_userid = text(params, "external_userid", 41035)
    add = string_list(params, "add_tag")
    remove = string_list(params, "remove_tag")
    if not add and not remove:
        raise ApiError(40058, "add_tag and remove_tag both empty")
    contact_member(state, userid)
    external_contact(state, external_userid)
    follow = follow_of(state, userid, external_userid)
    for tag_id in add + remove:
        if tag_id not in state.tags or state.tags[tag_id].deleted:
            raise ApiError(40068)
    follow.tag_ids = [t for t in follow.tag_ids if t not in remove]
    follow.tag_ids += [t for t in dict.fromkeys(add) if t not in follow.tag_ids]
    return {}
