"""Queries of the tasks domain; every one is filtered by the workspace."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.kit.pagination import SortSpec, paginate
from siyu.kit.timeline import TimelineCursor, older_than
from siyu.models import FollowUp

TIMELINE_KIND = "follow_up"


class TasksRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def follow_ups_page(
        self, customer_id: int, *, cursor: str | None, limit: int
    ) -> tuple[list[FollowUp], str | None]:
        """A customer's notes, newest first, one keyset page at a time."""
        stmt, page = paginate(
            select(FollowUp).where(
                FollowUp.workspace_id == self.workspace_id, FollowUp.customer_id == customer_id
            ),
            columns={"created_at": FollowUp.created_at.expression},
            id_column=FollowUp.id.expression,
            sort=SortSpec("created_at", descending=True),
            cursor=cursor,
            limit=limit,
        )
        return page.build(list(self.session.scalars(stmt)))

    def timeline_follow_ups(
        self, customer_id: int, *, before: TimelineCursor | None, limit: int
    ) -> list[FollowUp]:
        return list(
            self.session.scalars(
                select(FollowUp)
                .where(
                    FollowUp.workspace_id == self.workspace_id,
                    FollowUp.customer_id == customer_id,
                    older_than(
                        before,
                        TIMELINE_KIND,
                        FollowUp.created_at.expression,
                        FollowUp.id.expression,
                    ),
                )
                .order_by(FollowUp.created_at.desc(), FollowUp.id.desc())
                .limit(limit)
            )
        )
