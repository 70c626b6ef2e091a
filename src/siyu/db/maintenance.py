"""Planner statistics during bulk jobs.

A bulk import can grow a table from nothing to millions of rows inside one job, faster
than autovacuum (where it runs at all) refreshes the statistics. PostgreSQL then plans
lookups on the growing tables as if they were empty — sequential scans per statement —
and the import slows down quadratically. Jobs that write in bulk refresh statistics
themselves at doubling row counts: a handful of ANALYZEs over any file size.
"""

from collections.abc import Sequence

from sqlalchemy import Engine, text
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


# autovacuum's default analyze rule: 50 rows plus 10% of the table changed since the last
STALE_BASE_ROWS = 50
STALE_FRACTION = 0.1


def analyze_stale(session: Session) -> list[str]:
    """ANALYZE the tables whose statistics autovacuum would have refreshed by now; returns
    their names. For jobs whose plans join large tables (segment builds, broadcast
    planning): with autovacuum off or behind, a freshly filled table still looks empty
    and PostgreSQL nests loops over it. Runs on a connection of its own, so the job's
    transaction holds no lock for it. A no-op on SQLite."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        stale = list(
            connection.scalars(
                text(
                    "SELECT s.relname FROM pg_stat_user_tables s"
                    " JOIN pg_class c ON c.oid = s.relid"
                    " WHERE s.schemaname = current_schema()"
                    " AND s.n_mod_since_analyze > :base + :fraction * GREATEST(c.reltuples, 0)"
                    " ORDER BY s.relname"
                ),
                {"base": STALE_BASE_ROWS, "fraction": STALE_FRACTION},
            )
        )
        for table in stale:
            connection.execute(text(f'ANALYZE "{table}"'))
    return stale
