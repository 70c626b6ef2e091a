"""Queries of the staff domain; every one is filtered by the workspace."""

from collections.abc import Sequence

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from siyu.models import Department, Staff


class StaffRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    # -- departments ------------------------------------------------------------

    def department(self, department_id: int) -> Department | None:
        return self.session.scalar(
            select(Department).where(
                Department.workspace_id == self.workspace_id, Department.id == department_id
            )
        )

    def departments(self) -> list[Department]:
        return list(
            self.session.scalars(
                select(Department)
                .where(Department.workspace_id == self.workspace_id)
                .order_by(Department.sort_order, Department.id)
            )
        )

    def child_named(self, parent_id: int | None, name: str) -> Department | None:
        parent = (
            Department.parent_id.is_(None)
            if parent_id is None
            else Department.parent_id == parent_id
        )
        return self.session.scalars(
            select(Department)
            .where(Department.workspace_id == self.workspace_id, parent, Department.name == name)
            .order_by(Department.id)
            .limit(1)
        ).first()

    def has_children(self, department_id: int) -> bool:
        return (
            self.session.scalar(
                select(Department.id)
                .where(
                    Department.workspace_id == self.workspace_id,
                    Department.parent_id == department_id,
                )
                .limit(1)
            )
            is not None
        )

    def parent_of(self, department_id: int) -> int | None:
        return self.session.scalar(
            select(Department.parent_id).where(
                Department.workspace_id == self.workspace_id, Department.id == department_id
            )
        )

    def next_department_order(self, parent_id: int | None) -> int:
        parent = (
            Department.parent_id.is_(None)
            if parent_id is None
            else Department.parent_id == parent_id
        )
        highest = self.session.scalar(
            select(func.max(Department.sort_order)).where(
                Department.workspace_id == self.workspace_id, parent
            )
        )
        return 0 if highest is None else highest + 1

    def subtree_ids(self, department_id: int) -> list[int]:
        """The department and all its descendants (a recursive query on both dialects)."""
        tree = (
            select(Department.id)
            .where(Department.workspace_id == self.workspace_id, Department.id == department_id)
            .cte("subtree", recursive=True)
        )
        child = select(Department.id).join(tree, Department.parent_id == tree.c.id)
        tree = tree.union(child.where(Department.workspace_id == self.workspace_id))
        return sorted(self.session.scalars(select(tree.c.id)))

    def clear_manager(self, staff_id: int) -> None:
        """Departments this staff member managed no longer have a manager."""
        self.session.execute(
            update(Department)
            .where(
                Department.workspace_id == self.workspace_id,
                Department.manager_staff_id == staff_id,
            )
            .values(manager_staff_id=None)
            .execution_options(synchronize_session="fetch")
        )

    def staff_counts(self) -> dict[int, int]:
        rows = self.session.execute(
            select(Staff.department_id, func.count())
            .where(Staff.workspace_id == self.workspace_id, Staff.department_id.is_not(None))
            .group_by(Staff.department_id)
        )
        return {department_id: count for department_id, count in rows if department_id is not None}

    def has_staff(self, department_id: int) -> bool:
        return (
            self.session.scalar(
                select(Staff.id)
                .where(
                    Staff.workspace_id == self.workspace_id, Staff.department_id == department_id
                )
                .limit(1)
            )
            is not None
        )

    # -- staff ------------------------------------------------------------------

    def staff(self, staff_id: int) -> Staff | None:
        return self.session.scalar(
            select(Staff).where(Staff.workspace_id == self.workspace_id, Staff.id == staff_id)
        )

    def staff_by_userid(self, userid: str) -> Staff | None:
        return self.session.scalar(
            select(Staff).where(
                Staff.workspace_id == self.workspace_id, Staff.wecom_userid == userid
            )
        )

    def staff_names(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = self.session.execute(
            select(Staff.id, Staff.name).where(
                Staff.workspace_id == self.workspace_id, Staff.id.in_(list(set(ids)))
            )
        )
        return dict(rows.all())

    def staff_query(
        self, *, department_ids: Sequence[int] | None, status: str | None, q: str | None
    ) -> Select[Staff]:
        stmt = select(Staff).where(Staff.workspace_id == self.workspace_id)
        if department_ids is not None:
            stmt = stmt.where(Staff.department_id.in_(department_ids))
        if status is not None:
            stmt = stmt.where(Staff.status == status)
        if q:
            prefix = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(
                or_(
                    Staff.name.like(prefix, escape="\\"),
                    Staff.wecom_userid.like(prefix, escape="\\"),
                    Staff.mobile.like(prefix, escape="\\"),
                    Staff.mobile.like("+86" + prefix, escape="\\"),
                )
            )
        return stmt
