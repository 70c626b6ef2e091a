"""One customer timeline assembled from several domains (events, orders, tag changes,
follow-up notes).

Entries sort newest first by (occurred_at, kind, id). Each domain's service exposes
`timeline_entries(session, workspace_id, customer_id, *, before, limit)` returning at
most `limit` entries strictly older than `before` in that order.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true


@dataclass(frozen=True)
class TimelineCursor:
    occurred_at: datetime
    kind: str
    id: int


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    id: int
    occurred_at: datetime
    title: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def cursor(self) -> TimelineCursor:
        return TimelineCursor(self.occurred_at, self.kind, self.id)


def older_than(
    cursor: TimelineCursor | None,
    kind: str,
    occurred_at: ColumnElement[datetime],
    row_id: ColumnElement[int],
) -> ColumnElement[bool]:
    """SQL condition: rows of `kind` that sort after `cursor` in newest-first order."""
    if cursor is None:
        return true()
    if kind < cursor.kind:
        return occurred_at <= cursor.occurred_at
    if kind > cursor.kind:
        return occurred_at < cursor.occurred_at
    return or_(
        occurred_at < cursor.occurred_at,
        and_(occurred_at == cursor.occurred_at, row_id < cursor.id),
    )


def newest_first(entries: list[TimelineEntry], limit: int) -> list[TimelineEntry]:
    ordered = sorted(entries, key=lambda e: (e.occurred_at, e.kind, e.id), reverse=True)
    return ordered[:limit]
