"""Planner statistics during bulk jobs.

A bulk import can grow a table from nothing to millions of rows inside one job, faster
than autovacuum (where it runs at all) refreshes the statistics. PostgreSQL then plans
lookups on the growing tables as if they were empty — sequential scans per statement —
and the import slows down quadratically. Jobs that write in bulk refresh statistics
themselves at doubling row counts: a handful of ANALYZEs over any file size.
"""

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session


class StatisticsRefresher:
    def __init__(self, session: Session, tables: Sequence[str], *, first_at: int = 5_000) -> None:
        self.session = session
        self.tables = tables
        self.written = 0
        self.next_at = first_at

    def wrote(self, rows: int) -> None:
        """Count rows the job has committed; ANALYZE when the count doubled."""
        self.written += rows
        if self.written < self.next_at:
            return
        self.next_at = self.written * 2
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text(f"ANALYZE {', '.join(self.tables)}"))
