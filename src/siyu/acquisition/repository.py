"""Queries of the acquisition domain; every one is filtered by the workspace."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, select, update
from sqlalchemy.orm import Session, undefer

from siyu.db.types import UTCDateTime
from siyu.models import FollowRelation, LiveCode, LiveCodeAdd, LiveCodeStaff

LOST_STATUSES = ("deleted_by_customer", "deleted_by_staff")


class AcquisitionRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    # -- live codes -------------------------------------------------------------

    def code(
        self, code_id: int, *, with_image: bool = False, deleted: bool = False
    ) -> LiveCode | None:
        stmt = select(LiveCode).where(
            LiveCode.workspace_id == self.workspace_id, LiveCode.id == code_id
        )
        if not deleted:
            stmt = stmt.where(LiveCode.status != "deleted")
        if with_image:
            stmt = stmt.options(undefer(LiveCode.qr_image))
        return self.session.scalar(stmt)

    def code_by_state(self, state: str) -> LiveCode | None:
        return self.session.scalar(
            select(LiveCode).where(
                LiveCode.workspace_id == self.workspace_id, LiveCode.state == state
            )
        )

    def state_taken(self, state: str) -> bool:
        return self.code_by_state(state) is not None

    def codes(self, status: str | None = None) -> list[LiveCode]:
        stmt = select(LiveCode).where(
            LiveCode.workspace_id == self.workspace_id, LiveCode.status != "deleted"
        )
        if status is not None:
            stmt = stmt.where(LiveCode.status == status)
        return list(self.session.scalars(stmt.order_by(LiveCode.id.desc())))

    def members(self, code_ids: Sequence[int]) -> dict[int, list[LiveCodeStaff]]:
        by_code: dict[int, list[LiveCodeStaff]] = {code_id: [] for code_id in code_ids}
        if not code_ids:
            return by_code
        rows = self.session.scalars(
            select(LiveCodeStaff)
            .where(
                LiveCodeStaff.workspace_id == self.workspace_id,
                LiveCodeStaff.live_code_id.in_(code_ids),
            )
            .order_by(LiveCodeStaff.live_code_id, LiveCodeStaff.position, LiveCodeStaff.id)
        )
        for row in rows:
            by_code[row.live_code_id].append(row)
        return by_code

    def replace_members(self, code_id: int, rows: list[dict[str, Any]]) -> None:
        self.session.execute(
            delete(LiveCodeStaff).where(
                LiveCodeStaff.workspace_id == self.workspace_id,
                LiveCodeStaff.live_code_id == code_id,
            )
        )
        self.session.add_all(
            LiveCodeStaff(workspace_id=self.workspace_id, live_code_id=code_id, **row)
            for row in rows
        )
        self.session.flush()

    # -- adds -------------------------------------------------------------------

    def add(self, add_id: int) -> LiveCodeAdd | None:
        return self.session.scalar(
            select(LiveCodeAdd).where(
                LiveCodeAdd.workspace_id == self.workspace_id, LiveCodeAdd.id == add_id
            )
        )

    def latest_add(self, code_id: int, customer_id: int, staff_id: int) -> LiveCodeAdd | None:
        return self.session.scalar(
            select(LiveCodeAdd)
            .where(
                LiveCodeAdd.workspace_id == self.workspace_id,
                LiveCodeAdd.live_code_id == code_id,
                LiveCodeAdd.customer_id == customer_id,
                LiveCodeAdd.staff_id == staff_id,
            )
            .order_by(LiveCodeAdd.id.desc())
            .limit(1)
        )

    def last_staff_id(self, code_id: int) -> int | None:
        return self.session.scalar(
            select(LiveCodeAdd.staff_id)
            .where(
                LiveCodeAdd.workspace_id == self.workspace_id, LiveCodeAdd.live_code_id == code_id
            )
            .order_by(LiveCodeAdd.id.desc())
            .limit(1)
        )

    def adds_per_staff(self, code_id: int, since: datetime) -> dict[int, int]:
        rows = self.session.execute(
            select(LiveCodeAdd.staff_id, func.count())
            .where(
                LiveCodeAdd.workspace_id == self.workspace_id,
                LiveCodeAdd.live_code_id == code_id,
                LiveCodeAdd.added_at >= since,
            )
            .group_by(LiveCodeAdd.staff_id)
        )
        return {staff_id: int(count) for staff_id, count in rows}

    def adds_per_code_and_staff(self, since: datetime) -> dict[tuple[int, int], int]:
        """(code id, staff id) -> adds since `since`, for every code at once."""
        rows = self.session.execute(
            select(LiveCodeAdd.live_code_id, LiveCodeAdd.staff_id, func.count())
            .where(LiveCodeAdd.workspace_id == self.workspace_id, LiveCodeAdd.added_at >= since)
            .group_by(LiveCodeAdd.live_code_id, LiveCodeAdd.staff_id)
        )
        return {(code_id, staff_id): int(count) for code_id, staff_id, count in rows}

    def add_counts(self, since: datetime) -> dict[int, tuple[int, int]]:
        """Code id -> (adds since `since`, all adds)."""
        today = func.sum(case((LiveCodeAdd.added_at >= since, 1), else_=0))
        rows = self.session.execute(
            select(LiveCodeAdd.live_code_id, today, func.count())
            .where(LiveCodeAdd.workspace_id == self.workspace_id)
            .group_by(LiveCodeAdd.live_code_id)
        )
        return {code_id: (int(t or 0), int(total)) for code_id, t, total in rows}

    def adds_of(self, code_id: int, *, limit: int, before_id: int | None) -> list[LiveCodeAdd]:
        stmt = select(LiveCodeAdd).where(
            LiveCodeAdd.workspace_id == self.workspace_id, LiveCodeAdd.live_code_id == code_id
        )
        if before_id is not None:
            stmt = stmt.where(LiveCodeAdd.id < before_id)
        return list(self.session.scalars(stmt.order_by(LiveCodeAdd.id.desc()).limit(limit)))

    def mark_losses(self, code_id: int | None = None) -> int:
        """Stamp lost_at on adds whose follow relation has since been deleted (either side).

        Reads the customers' follow relations, like analytics does: a loss is a fact about
        the relation, recorded here so statistics need no join.
        """
        lost = (
            select(FollowRelation.updated_at)
            .where(
                FollowRelation.workspace_id == self.workspace_id,
                FollowRelation.customer_id == LiveCodeAdd.customer_id,
                FollowRelation.staff_id == LiveCodeAdd.staff_id,
                FollowRelation.status.in_(LOST_STATUSES),
                FollowRelation.updated_at >= LiveCodeAdd.added_at,
            )
            .scalar_subquery()
        )
        conditions = [LiveCodeAdd.workspace_id == self.workspace_id, LiveCodeAdd.lost_at.is_(None)]
        if code_id is not None:
            conditions.append(LiveCodeAdd.live_code_id == code_id)
        has_lost = exists(
            select(FollowRelation.id).where(
                FollowRelation.workspace_id == self.workspace_id,
                FollowRelation.customer_id == LiveCodeAdd.customer_id,
                FollowRelation.staff_id == LiveCodeAdd.staff_id,
                FollowRelation.status.in_(LOST_STATUSES),
                FollowRelation.updated_at >= LiveCodeAdd.added_at,
            )
        )
        result = self.session.execute(
            update(LiveCodeAdd)
            .where(and_(*conditions), has_lost)
            .values(lost_at=lost)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def stats_rows(self, code_id: int) -> list[tuple[int, datetime, datetime | None, str]]:
        """(staff id, added at, lost at, welcome status) of every add of a code.

        A loss the refresh job has not stamped yet is read from the follow relation.
        """
        relation_lost = case(
            (
                and_(
                    FollowRelation.status.in_(LOST_STATUSES),
                    FollowRelation.updated_at >= LiveCodeAdd.added_at,
                ),
                FollowRelation.updated_at,
            ),
            else_=None,
        )
        rows = self.session.execute(
            select(
                LiveCodeAdd.staff_id,
                LiveCodeAdd.added_at,
                func.coalesce(LiveCodeAdd.lost_at, relation_lost, type_=UTCDateTime()),
                LiveCodeAdd.welcome_status,
            )
            .outerjoin(
                FollowRelation,
                and_(
                    FollowRelation.workspace_id == LiveCodeAdd.workspace_id,
                    FollowRelation.customer_id == LiveCodeAdd.customer_id,
                    FollowRelation.staff_id == LiveCodeAdd.staff_id,
                ),
            )
            .where(
                LiveCodeAdd.workspace_id == self.workspace_id, LiveCodeAdd.live_code_id == code_id
            )
        )
        return [(s, a, lost, w) for s, a, lost, w in rows]
