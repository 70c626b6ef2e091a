"""Lifecycle stage history: every move is recorded, so funnels can count conversions."""

from sqlalchemy.orm import Session

from siyu.kit.time import utcnow
from siyu.models import StageChange


def record(
    session: Session,
    workspace_id: int,
    customer_id: int,
    before: str | None,
    after: str,
    *,
    source: str,
) -> None:
    if before == after:
        return
    session.add(
        StageChange(
            workspace_id=workspace_id,
            customer_id=customer_id,
            from_stage=before,
            to_stage=after,
            source=source[:16],
            changed_at=utcnow(),
        )
    )
