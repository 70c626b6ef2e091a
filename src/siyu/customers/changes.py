"""Changed-customer marks: writers record which customers changed, dynamic segments catch up.

A writer (event ingest, order import, tags, profile edits, follow relations, opt-outs) calls
`mark_changed` in its own transaction: one upsert for the batch, and the segments' refresh
job is queued unless one is already waiting. Nothing is lost if the process dies: the
marks and the job commit with the change itself. A workspace without dynamic segments
(the segments domain sets WATCHING in its settings) is not marked at all.
"""

from collections.abc import Iterable

from sqlalchemy import Table, exists, select
from sqlalchemy.orm import Session

from siyu.db.bulk import upsert
from siyu.kit.time import utcnow
from siyu.models import ChangedCustomer, Job
from siyu.worker.queue import enqueue
from siyu.workspace import service as workspace_service

REFRESH_JOB = "segments.refresh_changed"
WATCHING = "segments.watching"


def mark_changed(
    session: Session, workspace_id: int, customer_ids: Iterable[int], *, orders: bool = False
) -> None:
    """Mark customers changed; `orders` when their orders changed (or moved between them)."""
    ids = sorted(set(customer_ids))
    if not ids or not workspace_service.get_workspace(session, workspace_id).settings.get(WATCHING):
        return
    now = utcnow()
    table: Table = ChangedCustomer.__table__  # type: ignore[assignment]
    upsert(
        session,
        table,
        [
            {
                "workspace_id": workspace_id,
                "customer_id": i,
                "changed_at": now,
                "order_changes": int(orders),
            }
            for i in ids
        ],
        conflict=["workspace_id", "customer_id"],
        update=["changed_at"],
        add=["order_changes"],
    )
    waiting = session.scalar(
        select(
            exists().where(
                Job.workspace_id == workspace_id,
                Job.name == REFRESH_JOB,
                Job.status == "queued",
            )
        )
    )
    if not waiting:
        enqueue(session, REFRESH_JOB, {}, workspace_id=workspace_id)
