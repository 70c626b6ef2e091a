"""What a running job sees: its session, its workspace and a way to report progress."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.db.session import unit_of_work


@dataclass
class JobContext:
    job_id: int
    workspace_id: int | None
    attempt: int
    session: Session
    # Set by the runner: records progress and renews the lease in the job's session;
    # it becomes visible at the next checkpoint or when the job ends.
    _report: Callable[[int, int | None], None] = field(repr=False)
    # Set by the runner: commits the job's session so far (chunked long jobs), keeping the lease.
    _checkpoint: Callable[[], None] = field(repr=False)

    def progress(self, done: int, total: int | None = None) -> None:
        self._report(done, total)

    def checkpoint(self) -> None:
        """Commit the work done so far. Only for long jobs that resume from their own state."""
        self._checkpoint()

    def reading(self) -> AbstractContextManager[Session]:
        """A read-only session of its own for a long read: on SQLite it takes no write
        lock, so the job's reading does not hold up other writers."""
        bind = self.session.get_bind()
        return unit_of_work(bind if isinstance(bind, Engine) else bind.engine, write=False)
