"""Queries of the tags domain; every one is filtered by the workspace."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from siyu.db.types import UTCDateTime
from siyu.kit.timeline import TimelineCursor, older_than
from siyu.models import CustomerTag, Tag, TagChange, TagGroup
from siyu.tags import bits

# Keeps IN lists well under every driver's bound-parameter limit.
CHUNK = 500


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def workspaces_with_tags(session: Session) -> list[int]:
    """Every workspace that has tags (installation-wide housekeeping)."""
    return list(session.scalars(select(Tag.workspace_id).distinct()))


class TagRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    # -- groups -----------------------------------------------------------------

    def group(self, group_id: int) -> TagGroup | None:
        return self.session.scalar(
            select(TagGroup).where(
                TagGroup.workspace_id == self.workspace_id, TagGroup.id == group_id
            )
        )

    def group_by_name(self, name: str) -> TagGroup | None:
        return self.session.scalar(
            select(TagGroup).where(
                TagGroup.workspace_id == self.workspace_id, TagGroup.name == name
            )
        )

    def groups(self) -> list[TagGroup]:
        return list(
            self.session.scalars(
                select(TagGroup)
                .where(TagGroup.workspace_id == self.workspace_id)
                .order_by(TagGroup.sort_order, TagGroup.id)
            )
        )

    def groups_by_names(self, names: Iterable[str]) -> dict[str, TagGroup]:
        wanted = sorted(set(names))
        if not wanted:
            return {}
        rows = self.session.scalars(
            select(TagGroup).where(
                TagGroup.workspace_id == self.workspace_id, TagGroup.name.in_(wanted)
            )
        )
        return {g.name: g for g in rows}

    def next_group_order(self) -> int:
        highest = self.session.scalar(
            select(func.max(TagGroup.sort_order)).where(TagGroup.workspace_id == self.workspace_id)
        )
        return 0 if highest is None else highest + 1

    # -- tags -------------------------------------------------------------------

    def tag(self, tag_id: int) -> Tag | None:
        return self.session.scalar(
            select(Tag).where(Tag.workspace_id == self.workspace_id, Tag.id == tag_id)
        )

    def tag_by_name(self, group_id: int, name: str) -> Tag | None:
        return self.session.scalar(
            select(Tag).where(
                Tag.workspace_id == self.workspace_id, Tag.group_id == group_id, Tag.name == name
            )
        )

    def tags(self, group_id: int | None = None) -> list[Tag]:
        stmt = select(Tag).where(Tag.workspace_id == self.workspace_id)
        if group_id is not None:
            stmt = stmt.where(Tag.group_id == group_id)
        return list(self.session.scalars(stmt.order_by(Tag.group_id, Tag.sort_order, Tag.id)))

    def tag_ids(self) -> list[int]:
        return list(
            self.session.scalars(
                select(Tag.id).where(Tag.workspace_id == self.workspace_id).order_by(Tag.id)
            )
        )

    def tags_in_groups(self, group_ids: Sequence[int]) -> list[Tag]:
        if not group_ids:
            return []
        return list(
            self.session.scalars(
                select(Tag)
                .where(Tag.workspace_id == self.workspace_id, Tag.group_id.in_(group_ids))
                .order_by(Tag.sort_order, Tag.id)
            )
        )

    def existing_tag_ids(self, tag_ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        for chunk in chunks(tag_ids):
            found.update(
                self.session.scalars(
                    select(Tag.id).where(Tag.workspace_id == self.workspace_id, Tag.id.in_(chunk))
                )
            )
        return found

    def tag_labels(self, tag_ids: Sequence[int]) -> dict[int, str]:
        """Tag id -> "group/tag", the name history keeps after a tag is deleted."""
        rows = self.session.execute(
            select(Tag.id, TagGroup.name, Tag.name)
            .join(TagGroup, TagGroup.id == Tag.group_id)
            .where(Tag.workspace_id == self.workspace_id, Tag.id.in_(tag_ids))
        )
        return {tag_id: f"{group}/{name}" for tag_id, group, name in rows}

    def tags_by_group_and_name(self, group_ids: Sequence[int]) -> dict[tuple[int, str], Tag]:
        return {(t.group_id, t.name): t for t in self.tags_in_groups(group_ids)}

    def next_tag_order(self, group_id: int) -> int:
        highest = self.session.scalar(
            select(func.max(Tag.sort_order)).where(
                Tag.workspace_id == self.workspace_id, Tag.group_id == group_id
            )
        )
        return 0 if highest is None else highest + 1

    def top_tags(self, limit: int) -> list[tuple[int, str, int]]:
        rows = self.session.execute(
            select(Tag.id, Tag.name, Tag.customer_count)
            .where(Tag.workspace_id == self.workspace_id, Tag.customer_count > 0)
            .order_by(Tag.customer_count.desc(), Tag.id)
            .limit(limit)
        )
        return [(tag_id, name, n) for tag_id, name, n in rows]

    def adjust_counts(self, deltas: Mapping[int, int]) -> None:
        """Move each tag's customer_count by its delta (one statement)."""
        moved = {tag_id: delta for tag_id, delta in deltas.items() if delta}
        if not moved:
            return
        self.session.execute(
            update(Tag)
            .where(Tag.workspace_id == self.workspace_id, Tag.id.in_(list(moved)))
            .values(customer_count=Tag.customer_count + case(moved, value=Tag.id, else_=0))
            .execution_options(synchronize_session="fetch")
        )

    def drift(self, tag_ids: Sequence[int] | None = None) -> dict[int, int]:
        """Per tag whose kept customer_count is off (all tags, or the given ones): the
        assignments counted minus the kept count, both read in one statement's snapshot."""
        counted = (
            select(func.count())
            .where(CustomerTag.workspace_id == self.workspace_id, CustomerTag.tag_id == Tag.id)
            .scalar_subquery()
        )
        stmt = select(Tag.id, counted - Tag.customer_count).where(
            Tag.workspace_id == self.workspace_id, Tag.customer_count != counted
        )
        if tag_ids is not None:
            stmt = stmt.where(Tag.id.in_(list(tag_ids)))
        return {tag_id: int(delta) for tag_id, delta in self.session.execute(stmt)}

    # -- assignments ------------------------------------------------------------

    def assigned_pairs(
        self, customer_ids: Sequence[int], tag_ids: Sequence[int]
    ) -> set[tuple[int, int]]:
        rows = self.session.execute(
            select(CustomerTag.customer_id, CustomerTag.tag_id).where(
                CustomerTag.workspace_id == self.workspace_id,
                CustomerTag.customer_id.in_(customer_ids),
                CustomerTag.tag_id.in_(tag_ids),
            )
        )
        return {(customer_id, tag_id) for customer_id, tag_id in rows}

    def insert_assignments(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(CustomerTag), rows)
            self.adjust_counts(Counter(row["tag_id"] for row in rows))
            bits.keep(
                self.session,
                self.workspace_id,
                added=[(row["customer_id"], row["tag_id"]) for row in rows],
            )

    def insert_changes(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(TagChange), rows)

    def delete_assignments(self, pairs: Sequence[tuple[int, int]]) -> None:
        by_tag: dict[int, list[int]] = {}
        for customer_id, tag_id in pairs:
            by_tag.setdefault(tag_id, []).append(customer_id)
        removed: dict[int, int] = {}
        gone: list[tuple[int, int]] = []
        for tag_id, customer_ids in by_tag.items():
            deleted = self.session.scalars(
                delete(CustomerTag)
                .where(
                    CustomerTag.workspace_id == self.workspace_id,
                    CustomerTag.tag_id == tag_id,
                    CustomerTag.customer_id.in_(customer_ids),
                )
                .returning(CustomerTag.customer_id)
            ).all()
            removed[tag_id] = -len(deleted)
            gone += [(customer_id, tag_id) for customer_id in deleted]
        self.adjust_counts(removed)
        bits.keep(self.session, self.workspace_id, removed=gone)

    def unassign_everyone(
        self, tag_id: int, label: str, *, source: str, actor: str, at: datetime
    ) -> int:
        """Remove a tag from all its customers in two set-based statements, keeping history."""
        assigned = select(
            CustomerTag.workspace_id,
            CustomerTag.customer_id,
            literal(tag_id),
            literal(label),
            literal("remove"),
            literal(source),
            literal(actor),
            literal(at, UTCDateTime()),
        ).where(CustomerTag.workspace_id == self.workspace_id, CustomerTag.tag_id == tag_id)
        self.session.execute(
            insert(TagChange).from_select(
                [
                    TagChange.workspace_id,
                    TagChange.customer_id,
                    TagChange.tag_id,
                    TagChange.tag_name,
                    TagChange.action,
                    TagChange.source,
                    TagChange.actor,
                    TagChange.created_at,
                ],
                assigned,
            )
        )
        result = self.session.execute(
            delete(CustomerTag).where(
                CustomerTag.workspace_id == self.workspace_id, CustomerTag.tag_id == tag_id
            )
        )
        self.session.execute(
            update(Tag)
            .where(Tag.workspace_id == self.workspace_id, Tag.id == tag_id)
            .values(customer_count=0)
            .execution_options(synchronize_session="fetch")
        )
        bits.clear_tag(self.session, self.workspace_id, tag_id)
        return int(result.rowcount)  # type: ignore[attr-defined]

    def customer_tags(self, customer_id: int) -> list[tuple[CustomerTag, Tag, TagGroup]]:
        rows = self.session.execute(
            select(CustomerTag, Tag, TagGroup)
            .join(Tag, Tag.id == CustomerTag.tag_id)
            .join(TagGroup, TagGroup.id == Tag.group_id)
            .where(
                CustomerTag.workspace_id == self.workspace_id,
                CustomerTag.customer_id == customer_id,
            )
            .order_by(TagGroup.sort_order, TagGroup.id, Tag.sort_order, Tag.id)
        )
        return [(ct, tag, group) for ct, tag, group in rows]

    # -- history ----------------------------------------------------------------

    def changes_query(self, customer_id: int) -> Select[TagChange]:
        return select(TagChange).where(
            TagChange.workspace_id == self.workspace_id, TagChange.customer_id == customer_id
        )

    def timeline_changes(
        self, customer_id: int, *, before: TimelineCursor | None, limit: int
    ) -> list[TagChange]:
        return list(
            self.session.scalars(
                self.changes_query(customer_id)
                .where(
                    older_than(
                        before,
                        "tag_change",
                        TagChange.created_at.expression,
                        TagChange.id.expression,
                    )
                )
                .order_by(TagChange.created_at.desc(), TagChange.id.desc())
                .limit(limit)
            )
        )

    def set_group_orders(self, orders: dict[int, int]) -> None:
        for group_id, order in orders.items():
            self.session.execute(
                update(TagGroup)
                .where(TagGroup.workspace_id == self.workspace_id, TagGroup.id == group_id)
                .values(sort_order=order)
            )

    def set_tag_orders(self, orders: dict[int, int]) -> None:
        for tag_id, order in orders.items():
            self.session.execute(
                update(Tag)
                .where(Tag.workspace_id == self.workspace_id, Tag.id == tag_id)
                .values(sort_order=order)
            )
