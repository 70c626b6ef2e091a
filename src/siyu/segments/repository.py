"""Queries of the segments domain; every one is filtered by the workspace."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from siyu.db.bulk import among
from siyu.models import (
    ChangedCustomer,
    CustomField,
    EventType,
    Segment,
    SegmentChange,
    SegmentSize,
    SegmentSnapshot,
)


@dataclass(frozen=True)
class ChangedBatch:
    ids: list[int]
    with_orders: list[int]
    newest: datetime


class SegmentRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def segment(self, segment_id: int) -> Segment | None:
        return self.session.scalar(
            select(Segment).where(
                Segment.workspace_id == self.workspace_id, Segment.id == segment_id
            )
        )

    def by_name(self, name: str) -> Segment | None:
        return self.session.scalar(
            select(Segment).where(Segment.workspace_id == self.workspace_id, Segment.name == name)
        )

    def segments(self, *, kind: str | None = None) -> list[Segment]:
        stmt = select(Segment).where(Segment.workspace_id == self.workspace_id)
        if kind is not None:
            stmt = stmt.where(Segment.kind == kind)
        return list(self.session.scalars(stmt.order_by(Segment.id)))

    def existing(self, model: type, ids: Sequence[int]) -> set[int]:
        return set(
            self.session.scalars(
                select(model.id).where(  # type: ignore[attr-defined]
                    model.workspace_id == self.workspace_id,  # type: ignore[attr-defined]
                    model.id.in_(ids),  # type: ignore[attr-defined]
                )
            )
        )

    def custom_field_types(self) -> dict[str, str]:
        rows = self.session.execute(
            select(CustomField.key, CustomField.field_type).where(
                CustomField.workspace_id == self.workspace_id
            )
        )
        return {key: kind for key, kind in rows}  # noqa: C416 - a Result is no mapping

    def counted_properties(self) -> dict[str, frozenset[str]]:
        rows = self.session.execute(
            select(EventType.name, EventType.counted_properties).where(
                EventType.workspace_id == self.workspace_id
            )
        )
        return {name: frozenset(props or ()) for name, props in rows}

    def sizes(self, segment_ids: Sequence[int], since: date) -> dict[int, list[tuple[date, int]]]:
        rows = self.session.execute(
            select(SegmentSize.segment_id, SegmentSize.day, SegmentSize.member_count)
            .where(
                SegmentSize.workspace_id == self.workspace_id,
                SegmentSize.segment_id.in_(segment_ids),
                SegmentSize.day >= since,
            )
            .order_by(SegmentSize.segment_id, SegmentSize.day)
        )
        sizes: dict[int, list[tuple[date, int]]] = {}
        for segment_id, day, count in rows:
            sizes.setdefault(segment_id, []).append((day, count))
        return sizes

    def changes_query(self, segment_id: int) -> Select[SegmentChange]:
        return select(SegmentChange).where(
            SegmentChange.workspace_id == self.workspace_id,
            SegmentChange.segment_id == segment_id,
        )

    def snapshots(self, segment_id: int) -> list[SegmentSnapshot]:
        return list(
            self.session.scalars(
                select(SegmentSnapshot)
                .where(
                    SegmentSnapshot.workspace_id == self.workspace_id,
                    SegmentSnapshot.segment_id == segment_id,
                )
                .order_by(SegmentSnapshot.taken_at.desc(), SegmentSnapshot.id.desc())
            )
        )

    def snapshot(self, snapshot_id: int) -> SegmentSnapshot | None:
        return self.session.scalar(
            select(SegmentSnapshot).where(
                SegmentSnapshot.workspace_id == self.workspace_id,
                SegmentSnapshot.id == snapshot_id,
            )
        )

    # -- changed customers ----------------------------------------------------------------

    def changed_batch(self, limit: int) -> ChangedBatch | None:
        """The oldest marked customers (those among them whose orders changed apart) and the
        newest mark among them."""
        rows = self.session.execute(
            select(
                ChangedCustomer.customer_id,
                ChangedCustomer.changed_at,
                ChangedCustomer.order_changes,
            )
            .where(ChangedCustomer.workspace_id == self.workspace_id)
            .order_by(ChangedCustomer.changed_at, ChangedCustomer.customer_id)
            .limit(limit)
        ).all()
        if not rows:
            return None
        return ChangedBatch(
            ids=[r.customer_id for r in rows],
            with_orders=[r.customer_id for r in rows if r.order_changes],
            newest=max(r.changed_at for r in rows),
        )

    def clear_changed(self, customer_ids: Sequence[int], up_to: datetime) -> None:
        """Clear the marks read; a customer marked again meanwhile stays marked."""
        self.session.execute(
            delete(ChangedCustomer).where(
                ChangedCustomer.workspace_id == self.workspace_id,
                among(self.session, ChangedCustomer.customer_id, customer_ids),
                ChangedCustomer.changed_at <= up_to,
            )
        )

    def changed_count(self) -> int:
        return (
            self.session.scalar(
                select(func.count()).where(ChangedCustomer.workspace_id == self.workspace_id)
            )
            or 0
        )
