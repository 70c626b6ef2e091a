"""Corp tags edited in the admin console: change_external_tag events."""

from siyu.connectors.wecom_sim.actions import ActionError
from siyu.connectors.wecom_sim.apis.tags import delete_tags
from siyu.connectors.wecom_sim.callbacks import emit
from siyu.connectors.wecom_sim.seed import add_tag, add_tag_group
from siyu.connectors.wecom_sim.state import SimState


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
