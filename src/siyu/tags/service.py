"""Tag groups, tags and their assignment to customers, with a history of every change."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

import siyu.customers.service as customers_service
from siyu.customers import changes
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.idbits import IdBits
from siyu.kit.pagination import PageOut, SortSpec, paginate
from siyu.kit.time import utcnow
from siyu.kit.timeline import TimelineCursor, TimelineEntry
from siyu.models import CustomerTag, Tag, TagChange, TagGroup
from siyu.tags import bits, repository
from siyu.tags.repository import TagRepository, chunks
from siyu.tags.schemas import (
    CustomerTagOut,
    TagChangeOut,
    TagGroupOut,
    TagOut,
)
from siyu.worker.queue import enqueue
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

TIMELINE_KIND = "tag_change"
ACTOR_MAX_LENGTH = 100
WECOM_ACTOR = "wecom"


class TagSource(StrEnum):
    MANUAL = "manual"
    IMPORT = "import"
    RULE = "rule"
    WECOM = "wecom"


def _source(source: str) -> str:
    try:
        return TagSource(source).value
    except ValueError:
        allowed = ", ".join(s.value for s in TagSource)
        raise ValidationFailed("source", f"unknown source {source!r}; allowed: {allowed}") from None


def _unique(ids: Sequence[int], field: str) -> list[int]:
    if len(set(ids)) != len(ids):
        raise ValidationFailed(field, "contains duplicates")
    return list(ids)


# -- groups and tags ------------------------------------------------------------


def list_groups(session: Session, workspace_id: int) -> list[TagGroupOut]:
    """Every group with its tags and how many customers carry each tag (two queries)."""
    repo = TagRepository(session, workspace_id)
    groups = repo.groups()
    tags_by_group: dict[int, list[TagOut]] = {}
    for tag in repo.tags():
        tags_by_group.setdefault(tag.group_id, []).append(TagOut.model_validate(tag))
    return [
        TagGroupOut.model_validate(group).model_copy(
            update={"tags": tags_by_group.get(group.id, [])}
        )
        for group in groups
    ]


def get_group(session: Session, workspace_id: int, group_id: int) -> TagGroup:
    group = TagRepository(session, workspace_id).group(group_id)
    if group is None:
        raise NotFound("tag group")
    return group


def get_tag(session: Session, workspace_id: int, tag_id: int) -> Tag:
    tag = TagRepository(session, workspace_id).tag(tag_id)
    if tag is None:
        raise NotFound("tag")
    return tag


def create_group(session: Session, workspace_id: int, *, name: str) -> TagGroup:
    repo = TagRepository(session, workspace_id)
    name = name.strip()
    if repo.group_by_name(name) is not None:
        raise Conflict(f"tag group {name!r} already exists", {"field": "name"})
    group = TagGroup(workspace_id=workspace_id, name=name, sort_order=repo.next_group_order())
    session.add(group)
    session.flush()
    return group


def rename_group(session: Session, workspace_id: int, group_id: int, *, name: str) -> TagGroup:
    repo = TagRepository(session, workspace_id)
    group = get_group(session, workspace_id, group_id)
    name = name.strip()
    existing = repo.group_by_name(name)
    if existing is not None and existing.id != group.id:
        raise Conflict(f"tag group {name!r} already exists", {"field": "name"})
    if group.wecom_group_id and group.name != name:
        _push_to_wecom(
            session, workspace_id, {"op": "rename", "id": group.wecom_group_id, "name": name}
        )
    group.name = name
    session.flush()
    return group


def reorder_groups(session: Session, workspace_id: int, ids: Sequence[int]) -> list[TagGroupOut]:
    """The listed groups come first in the given order; the rest keep theirs after them."""
    repo = TagRepository(session, workspace_id)
    ids = _unique(ids, "ids")
    current = [g.id for g in repo.groups()]
    missing = set(ids) - set(current)
    if missing:
        raise NotFound("tag group", {"ids": sorted(missing)})
    ordered = ids + [i for i in current if i not in set(ids)]
    repo.set_group_orders({group_id: position for position, group_id in enumerate(ordered)})
    return list_groups(session, workspace_id)


def delete_group(session: Session, principal: Principal, group_id: int) -> None:
    """Delete a group and its tags; their assignments are removed and recorded in history."""
    group = get_group(session, principal.workspace_id, group_id)
    repo = TagRepository(session, principal.workspace_id)
    removed = 0
    if group.wecom_group_id:
        _push_to_wecom(
            session, principal.workspace_id, {"op": "delete", "group_ids": [group.wecom_group_id]}
        )
    for tag in repo.tags(group.id):
        removed += _unassign_and_delete(session, repo, principal, tag)
    session.delete(group)
    session.flush()
    workspace_service.audit(
        session,
        principal,
        "tag_group.delete",
        target_type="tag_group",
        target_id=group.id,
        details={"name": group.name, "assignments_removed": removed},
    )


def create_tag(session: Session, workspace_id: int, group_id: int, *, name: str) -> Tag:
    repo = TagRepository(session, workspace_id)
    group = get_group(session, workspace_id, group_id)
    name = name.strip()
    if repo.tag_by_name(group.id, name) is not None:
        raise Conflict(f"tag {name!r} already exists in {group.name!r}", {"field": "name"})
    tag = Tag(
        workspace_id=workspace_id,
        group_id=group.id,
        name=name,
        sort_order=repo.next_tag_order(group.id),
    )
    session.add(tag)
    session.flush()
    if group.wecom_group_id:
        _push_to_wecom(session, workspace_id, {"op": "create", "tag_id": tag.id})
    return tag


def update_tag(
    session: Session,
    workspace_id: int,
    tag_id: int,
    *,
    name: str | None = None,
    group_id: int | None = None,
) -> Tag:
    repo = TagRepository(session, workspace_id)
    tag = get_tag(session, workspace_id, tag_id)
    target_group = (
        tag.group_id if group_id is None else get_group(session, workspace_id, group_id).id
    )
    target_name = tag.name if name is None else name.strip()
    existing = repo.tag_by_name(target_group, target_name)
    if existing is not None and existing.id != tag.id:
        raise Conflict(f"tag {target_name!r} already exists in that group", {"field": "name"})
    if target_group != tag.group_id:
        tag.sort_order = repo.next_tag_order(target_group)
    if tag.wecom_tag_id and target_name != tag.name:
        _push_to_wecom(
            session, workspace_id, {"op": "rename", "id": tag.wecom_tag_id, "name": target_name}
        )
    tag.group_id = target_group
    tag.name = target_name
    session.flush()
    return tag


def reorder_tags(
    session: Session, workspace_id: int, group_id: int, ids: Sequence[int]
) -> list[TagOut]:
    repo = TagRepository(session, workspace_id)
    group = get_group(session, workspace_id, group_id)
    ids = _unique(ids, "ids")
    current = [t.id for t in repo.tags(group.id)]
    missing = set(ids) - set(current)
    if missing:
        raise NotFound("tag", {"ids": sorted(missing)})
    ordered = ids + [i for i in current if i not in set(ids)]
    repo.set_tag_orders({tag_id: position for position, tag_id in enumerate(ordered)})
    return [TagOut.model_validate(t) for t in repo.tags(group.id)]


def delete_tag(session: Session, principal: Principal, tag_id: int) -> None:
    tag = get_tag(session, principal.workspace_id, tag_id)
    repo = TagRepository(session, principal.workspace_id)
    if tag.wecom_tag_id:
        _push_to_wecom(
            session, principal.workspace_id, {"op": "delete", "tag_ids": [tag.wecom_tag_id]}
        )
    removed = _unassign_and_delete(session, repo, principal, tag)
    workspace_service.audit(
        session,
        principal,
        "tag.delete",
        target_type="tag",
        target_id=tag_id,
        details={"name": tag.name, "assignments_removed": removed},
    )


def _unassign_and_delete(
    session: Session, repo: TagRepository, principal: Principal, tag: Tag
) -> int:
    label = repo.tag_labels([tag.id])[tag.id]
    removed = repo.unassign_everyone(
        tag.id, label, source=TagSource.MANUAL.value, actor=principal.actor, at=utcnow()
    )
    session.delete(tag)
    session.flush()
    return removed


def ensure_tags(
    session: Session, workspace_id: int, names: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(group name, tag name) -> tag id, creating missing groups and tags."""
    repo = TagRepository(session, workspace_id)
    cleaned: dict[tuple[str, str], tuple[str, str]] = {}
    for index, (group_name, tag_name) in enumerate(names):
        key = (group_name.strip(), tag_name.strip())
        if not key[0] or not key[1]:
            raise ValidationFailed(f"names[{index}]", "group and tag names must not be empty")
        cleaned[(group_name, tag_name)] = key
    wanted = sorted(set(cleaned.values()))
    groups = repo.groups_by_names(g for g, _ in wanted)
    group_order = repo.next_group_order()
    for group_name in sorted({g for g, _ in wanted} - groups.keys()):
        groups[group_name] = TagGroup(
            workspace_id=workspace_id, name=group_name, sort_order=group_order
        )
        group_order += 1
        session.add(groups[group_name])
    session.flush()
    tags = repo.tags_by_group_and_name([g.id for g in groups.values()])
    tag_orders: dict[int, int] = {}
    for group_name, tag_name in wanted:
        group_id = groups[group_name].id
        if (group_id, tag_name) in tags:
            continue
        order = tag_orders.get(group_id)
        if order is None:
            order = repo.next_tag_order(group_id)
        tag_orders[group_id] = order + 1
        tag = Tag(workspace_id=workspace_id, group_id=group_id, name=tag_name, sort_order=order)
        session.add(tag)
        tags[(group_id, tag_name)] = tag
    session.flush()
    return {key: tags[(groups[g].id, t)].id for key, (g, t) in cleaned.items()}


# -- assignments ----------------------------------------------------------------


def require_tags(repo: TagRepository, tag_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(tag_ids))
    missing = set(ids) - repo.existing_tag_ids(ids)
    if missing:
        raise NotFound("tag", {"ids": sorted(missing)})
    return ids


def _actor(actor: str) -> str:
    return actor[:ACTOR_MAX_LENGTH]


def add_tags(
    session: Session,
    workspace_id: int,
    customer_ids: Sequence[int],
    tag_ids: Sequence[int],
    *,
    source: str,
    actor: str,
) -> int:
    """Assign tags to customers; existing assignments are kept. Returns assignments added."""
    source = _source(source)
    repo = TagRepository(session, workspace_id)
    tags = require_tags(repo, tag_ids)
    customers = customers_service.require_customer_ids(session, workspace_id, customer_ids)
    if not tags or not customers:
        return 0
    labels = repo.tag_labels(tags)
    now = utcnow()
    added = 0
    for chunk in chunks(customers):
        assigned = repo.assigned_pairs(chunk, tags)
        new = [(c, t) for c in chunk for t in tags if (c, t) not in assigned]
        common = {"workspace_id": workspace_id, "source": source, "actor": _actor(actor)}
        repo.insert_assignments(
            [{**common, "customer_id": c, "tag_id": t, "created_at": now} for c, t in new]
        )
        repo.insert_changes(
            [
                {**common, "customer_id": c, "tag_id": t, "tag_name": labels[t]}
                | {"action": "add", "created_at": now}
                for c, t in new
            ]
        )
        added += len(new)
        _mark_in_wecom(session, workspace_id, source, [c for c, _ in new], tags, add=True)
        changes.mark_changed(session, workspace_id, (c for c, _ in new))
    return added


def remove_tags(
    session: Session,
    workspace_id: int,
    customer_ids: Sequence[int],
    tag_ids: Sequence[int],
    *,
    source: str,
    actor: str,
) -> int:
    """Take tags off customers; absent assignments are ignored. Returns assignments removed."""
    source = _source(source)
    repo = TagRepository(session, workspace_id)
    tags = require_tags(repo, tag_ids)
    customers = customers_service.require_customer_ids(session, workspace_id, customer_ids)
    if not tags or not customers:
        return 0
    labels = repo.tag_labels(tags)
    now = utcnow()
    removed = 0
    for chunk in chunks(customers):
        gone = sorted(repo.assigned_pairs(chunk, tags))
        repo.delete_assignments(gone)
        repo.insert_changes(
            [
                {
                    "workspace_id": workspace_id,
                    "customer_id": c,
                    "tag_id": t,
                    "tag_name": labels[t],
                    "action": "remove",
                    "source": source,
                    "actor": _actor(actor),
                    "created_at": now,
                }
                for c, t in gone
            ]
        )
        changes.mark_changed(session, workspace_id, (c for c, _ in gone))
        removed += len(gone)
        _mark_in_wecom(session, workspace_id, source, [c for c, _ in gone], tags, add=False)
    return removed


def tags_of(session: Session, workspace_id: int, customer_id: int) -> list[CustomerTagOut]:
    rows = TagRepository(session, workspace_id).customer_tags(customer_id)
    return [
        CustomerTagOut(
            tag_id=tag.id,
            tag_name=tag.name,
            group_id=group.id,
            group_name=group.name,
            source=assignment.source,
            actor=assignment.actor,
            added_at=assignment.created_at,
        )
        for assignment, tag, group in rows
    ]


def customer_tags(session: Session, principal: Principal, customer_id: int) -> list[CustomerTagOut]:
    """The tags of one customer the principal may see."""
    customer = customers_service.get_customer(session, principal, customer_id)
    return tags_of(session, principal.workspace_id, customer.id)


def change_customer_tags(
    session: Session, principal: Principal, customer_id: int, tag_ids: Sequence[int], *, add: bool
) -> list[CustomerTagOut]:
    """Manual add or removal on one customer (within the principal's data scope)."""
    customer = customers_service.get_customer(session, principal, customer_id)
    change = add_tags if add else remove_tags
    change(
        session,
        principal.workspace_id,
        [customer.id],
        tag_ids,
        source=TagSource.MANUAL,
        actor=principal.actor,
    )
    return tags_of(session, principal.workspace_id, customer.id)


# -- history --------------------------------------------------------------------


def tag_history(
    session: Session, principal: Principal, customer_id: int, *, cursor: str | None, limit: int
) -> PageOut[TagChangeOut]:
    customer = customers_service.get_customer(session, principal, customer_id)
    repo = TagRepository(session, principal.workspace_id)
    stmt, page = paginate(
        repo.changes_query(customer.id),
        columns={"created_at": TagChange.created_at.expression},
        id_column=TagChange.id.expression,
        sort=SortSpec("created_at", descending=True),
        cursor=cursor,
        limit=limit,
    )
    rows = list(session.scalars(stmt))
    items, next_cursor = page.build(rows)
    return PageOut(items=[TagChangeOut.model_validate(r) for r in items], next_cursor=next_cursor)


_TITLES = {"add": "添加标签", "remove": "移除标签"}


def timeline_entries(
    session: Session,
    workspace_id: int,
    customer_id: int,
    *,
    before: TimelineCursor | None,
    limit: int,
) -> list[TimelineEntry]:
    changes = TagRepository(session, workspace_id).timeline_changes(
        customer_id, before=before, limit=limit
    )
    return [
        TimelineEntry(
            kind=TIMELINE_KIND,
            id=change.id,
            occurred_at=change.created_at,
            title=f"{_TITLES.get(change.action, change.action)} {change.tag_name}",
            data={
                "tag_id": change.tag_id,
                "tag_name": change.tag_name,
                "action": change.action,
                "source": change.source,
                "actor": change.actor,
            },
        )
        for change in changes
    ]


def recount_tags(session: Session, workspace_id: int, tag_ids: Sequence[int] | None = None) -> int:
    """Recount the kept customer counts from the assignments; returns how many were off."""
    drift = count_drift(session, workspace_id, tag_ids)
    correct_counts(session, workspace_id, drift)
    return len(drift)


def count_drift(
    session: Session, workspace_id: int, tag_ids: Sequence[int] | None = None
) -> dict[int, int]:
    """How far each drifted tag's kept count is from its assignments (reads only)."""
    return TagRepository(session, workspace_id).drift(tag_ids)


def correct_counts(session: Session, workspace_id: int, drift: Mapping[int, int]) -> None:
    """Apply a drift `count_drift` read. Moved by the drift, not set to the count read:
    assignments changed since that read moved the kept counts themselves."""
    TagRepository(session, workspace_id).adjust_counts(drift)


def assignments_moved(
    session: Session,
    workspace_id: int,
    *,
    added: Sequence[tuple[int, int]],
    removed: Sequence[tuple[int, int]],
) -> None:
    """Keep the tags' bits after assignments (customer id, tag id) were moved past this
    domain's writes (customer merges and their undoing)."""
    bits.keep(session, workspace_id, added=added, removed=removed)


def customers_leaving(session: Session, workspace_id: int, customer_ids: Sequence[int]) -> None:
    """Before customers are deleted: their assignments go with them."""
    bits.forget_customers(session, workspace_id, customer_ids)


def rebuild_bits(session: Session, workspace_id: int) -> None:
    """Write every tag's bits anew from the assignments (after rows were loaded past the
    services, e.g. by bench/generate.py)."""
    bits.rebuild(session, workspace_id, TagRepository(session, workspace_id).tag_ids())


def bits_drift(session: Session, workspace_id: int) -> list[tuple[int, int]]:
    """The (tag, block) pairs whose kept bits are not the assignments (reads only)."""
    return bits.drifted(session, workspace_id, TagRepository(session, workspace_id).tag_ids())


def repair_bits(session: Session, workspace_id: int, blocks: Sequence[tuple[int, int]]) -> None:
    """Rewrite the blocks `bits_drift` named from the assignments as they are now."""
    bits.repair(session, workspace_id, blocks)


def bits_query(workspace_id: int, tag_ids: Sequence[int]) -> Select[int, int, bytes]:
    """The kept bits of these tags (segment rules read them on connections of their own)."""
    return bits.carriers_query(workspace_id, tag_ids)


def carriers(rows: Iterable[tuple[int, int, bytes]], tag_ids: Sequence[int]) -> dict[int, IdBits]:
    """Per tag, the customers carrying it, from `bits_query`'s rows."""
    return bits.carriers(rows, tag_ids)


def workspaces_with_tags(session: Session) -> list[int]:
    return repository.workspaces_with_tags(session)


def top_tags(session: Session, workspace_id: int, limit: int) -> list[tuple[int, str, int]]:
    """(tag id, name, customer count), most used first (dashboard)."""
    return TagRepository(session, workspace_id).top_tags(limit)


# -- WeCom corp tags (the sync keeps these mirrored; see connectors/wecom/sync.py) --------


@dataclass(frozen=True)
class WecomTagRecord:
    wecom_tag_id: str
    name: str
    order: int = 0


@dataclass(frozen=True)
class WecomTagGroupRecord:
    wecom_group_id: str
    name: str
    order: int = 0
    tags: tuple[WecomTagRecord, ...] = ()


def sync_wecom_tag_library(
    session: Session,
    workspace_id: int,
    groups: Sequence[WecomTagGroupRecord],
    *,
    complete: bool,
) -> dict[str, int]:
    """Mirror WeCom's corp tag library: groups and tags matched by WeCom id, else adopted by
    name, else created; renamed to WeCom's names. With `complete` (the whole library was
    read), groups and tags whose WeCom id is no longer listed are deleted.

    Returns counts: created, updated, deleted.
    """
    mirror = _LibraryMirror(session, workspace_id)
    for record in groups:
        mirror.group(record)
    session.flush()
    if complete:
        mirror.delete_unlisted()
        session.flush()
    return mirror.counts


class _LibraryMirror:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.repo = TagRepository(session, workspace_id)
        self.counts = {"created": 0, "updated": 0, "deleted": 0}
        self.groups = self.repo.groups()
        self.groups_by_wecom = {g.wecom_group_id: g for g in self.groups if g.wecom_group_id}
        self.groups_by_name = {g.name: g for g in self.groups}
        self.tags = self.repo.tags()
        self.tags_by_wecom = {t.wecom_tag_id: t for t in self.tags if t.wecom_tag_id}
        self.seen_groups: set[str] = set()
        self.seen_tags: set[str] = set()

    def group(self, record: WecomTagGroupRecord) -> None:
        self.seen_groups.add(record.wecom_group_id)
        group = self.groups_by_wecom.get(record.wecom_group_id)
        if group is None:
            adoptable = self.groups_by_name.get(record.name)
            group = adoptable if adoptable is not None and not adoptable.wecom_group_id else None
        if group is None:
            group = TagGroup(
                workspace_id=self.workspace_id, name=record.name, sort_order=record.order
            )
            self.session.add(group)
            self.session.flush()
            self.groups_by_name[group.name] = group
            self.counts["created"] += 1
        if (group.wecom_group_id, group.name) != (record.wecom_group_id, record.name):
            group.wecom_group_id = record.wecom_group_id
            group.name = record.name
            self.counts["updated"] += 1
        self.groups_by_wecom[record.wecom_group_id] = group
        by_name = {t.name: t for t in self.tags if t.group_id == group.id}
        for tag_record in record.tags:
            self.tag(group, tag_record, by_name.get(tag_record.name))

    def tag(self, group: TagGroup, record: WecomTagRecord, same_name: Tag | None) -> None:
        self.seen_tags.add(record.wecom_tag_id)
        tag = self.tags_by_wecom.get(record.wecom_tag_id)
        if tag is None and same_name is not None and not same_name.wecom_tag_id:
            tag = same_name
        if tag is None:
            tag = Tag(
                workspace_id=self.workspace_id,
                group_id=group.id,
                name=record.name,
                sort_order=record.order,
            )
            self.session.add(tag)
            self.tags.append(tag)
            self.counts["created"] += 1
        if (tag.wecom_tag_id, tag.name, tag.group_id) != (
            record.wecom_tag_id,
            record.name,
            group.id,
        ):
            tag.wecom_tag_id = record.wecom_tag_id
            tag.name = record.name
            tag.group_id = group.id
            self.counts["updated"] += 1
        self.tags_by_wecom[record.wecom_tag_id] = tag

    def delete_unlisted(self) -> None:
        for tag in self.tags:
            if tag.wecom_tag_id and tag.wecom_tag_id not in self.seen_tags:
                _delete_mirrored_tag(self.session, self.repo, tag)
                self.counts["deleted"] += 1
        for group in self.groups:
            if group.wecom_group_id and group.wecom_group_id not in self.seen_groups:
                self.session.delete(group)
                self.counts["deleted"] += 1


def delete_wecom_tags(
    session: Session, workspace_id: int, *, tag_ids: Sequence[str], group_ids: Sequence[str]
) -> int:
    """Delete the mirrored tags and groups WeCom deleted (their customers lose them)."""
    repo = TagRepository(session, workspace_id)
    deleted = 0
    wanted_tags, wanted_groups = set(tag_ids), set(group_ids)
    for group in repo.groups():
        if group.wecom_group_id and group.wecom_group_id in wanted_groups:
            for tag in repo.tags(group.id):
                _delete_mirrored_tag(session, repo, tag)
            session.delete(group)
            deleted += 1
    for tag in repo.tags():
        if tag.wecom_tag_id and tag.wecom_tag_id in wanted_tags:
            _delete_mirrored_tag(session, repo, tag)
            deleted += 1
    session.flush()
    return deleted


def _delete_mirrored_tag(session: Session, repo: TagRepository, tag: Tag) -> None:
    label = repo.tag_labels([tag.id])[tag.id]
    repo.unassign_everyone(
        tag.id, label, source=TagSource.WECOM.value, actor=WECOM_ACTOR, at=utcnow()
    )
    session.delete(tag)


def tag_ids_by_wecom_id(
    session: Session, workspace_id: int, wecom_tag_ids: Iterable[str]
) -> dict[str, int]:
    """WeCom corp tag id -> Siyu tag id, for the tags the library sync has mirrored."""
    wanted = set(wecom_tag_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Tag.wecom_tag_id, Tag.id).where(
            Tag.workspace_id == workspace_id, Tag.wecom_tag_id.in_(wanted)
        )
    )
    return {str(wecom_id): tag_id for wecom_id, tag_id in rows}


def wecom_tag_ids(session: Session, workspace_id: int, tag_ids: Iterable[int]) -> dict[int, str]:
    """Siyu tag id -> WeCom corp tag id, for those of the tags that are mirrored."""
    wanted = set(tag_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Tag.id, Tag.wecom_tag_id).where(
            Tag.workspace_id == workspace_id, Tag.id.in_(wanted), Tag.wecom_tag_id.is_not(None)
        )
    )
    return {tag_id: str(wecom_id) for tag_id, wecom_id in rows}


def set_wecom_customer_tags(
    session: Session, workspace_id: int, wanted: dict[int, set[int]]
) -> dict[str, int]:
    """Make each customer's WeCom-mirrored tags (tags with a WeCom id) exactly `wanted`
    (customer id -> tag ids), in a constant number of statements; other tags are untouched.
    Returns counts: added, removed."""
    if not wanted:
        return {"added": 0, "removed": 0}
    repo = TagRepository(session, workspace_id)
    current: dict[int, set[int]] = {customer_id: set() for customer_id in wanted}
    for chunk in chunks(list(wanted)):
        rows = session.execute(
            select(CustomerTag.customer_id, CustomerTag.tag_id)
            .join(Tag, Tag.id == CustomerTag.tag_id)
            .where(
                CustomerTag.workspace_id == workspace_id,
                CustomerTag.customer_id.in_(chunk),
                Tag.wecom_tag_id.is_not(None),
            )
        )
        for customer_id, tag_id in rows:
            current[customer_id].add(tag_id)
    add = [(c, t) for c, tags in wanted.items() for t in sorted(tags - current[c])]
    remove = [(c, t) for c, tags in current.items() for t in sorted(tags - wanted[c])]
    labels = repo.tag_labels(sorted({t for _, t in add + remove}))
    now = utcnow()
    common = {"workspace_id": workspace_id, "source": TagSource.WECOM.value, "actor": WECOM_ACTOR}
    repo.insert_assignments(
        [{**common, "customer_id": c, "tag_id": t, "created_at": now} for c, t in add]
    )
    repo.delete_assignments(remove)
    repo.insert_changes(
        [
            {**common, "customer_id": c, "tag_id": t, "tag_name": labels[t]}
            | {"action": action, "created_at": now}
            for action, pairs in (("add", add), ("remove", remove))
            for c, t in pairs
        ]
    )
    return {"added": len(add), "removed": len(remove)}


# -- Siyu → WeCom (the wecom.push_tags job calls the corp tag APIs; API changes fire no
# callbacks, so nothing echoes back) ------------------------------------------------------

WECOM_PUSH_JOB = "wecom.push_tags"


def _push_to_wecom(session: Session, workspace_id: int, payload: dict[str, Any]) -> None:
    enqueue(session, WECOM_PUSH_JOB, payload, workspace_id=workspace_id)


def _mark_in_wecom(
    session: Session,
    workspace_id: int,
    source: str,
    customer_ids: Sequence[int],
    tag_ids: Sequence[int],
    *,
    add: bool,
) -> None:
    """Tag changes made in Siyu on WeCom-mirrored tags go to the customers' WeCom relations."""
    if source == TagSource.WECOM or not customer_ids:
        return
    mirrored = sorted(wecom_tag_ids(session, workspace_id, tag_ids).values())
    if mirrored:
        _push_to_wecom(
            session,
            workspace_id,
            {
                "op": "mark",
                "customer_ids": sorted(set(customer_ids)),
                "add" if add else "remove": mirrored,
            },
        )
