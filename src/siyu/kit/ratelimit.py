"""Token buckets shared by every process through the database.

A bucket is one `rate_bucket` row per (workspace, key). Taking a token is one atomic
UPDATE that adds the refill since `refilled_at`, caps it at the capacity and takes one
token only if a whole token is there. On PostgreSQL that is a single UPDATE … RETURNING on
a connection of its own (autocommitted at once, so no row lock outlives the call). On
SQLite it runs in a short BEGIN IMMEDIATE transaction on its own connection — or, when the
caller's session already holds SQLite's write lock, inside that transaction, since a second
connection would only wait for the caller to finish.
"""

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine, Float, Table, case, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.models.rate_bucket import RateBucket

MIN_WAIT = 0.001


@dataclass(frozen=True, slots=True)
class Limit:
    """`rate` tokens per second, bursts of up to `capacity` tokens."""

    rate: float
    capacity: float


class Limiter(Protocol):
    async def acquire(self, key: str, limit: Limit) -> None: ...


def _take(connection: Connection, workspace_id: int, key: str, limit: Limit, now: float) -> bool:
    bucket: Table = RateBucket.__table__  # type: ignore[assignment]
    at = literal(now, Float())
    elapsed = case((at > bucket.c.refilled_at, at - bucket.c.refilled_at), else_=0.0)
    level = bucket.c.tokens + elapsed * limit.rate
    capped = case((level > limit.capacity, literal(limit.capacity, Float())), else_=level)
    taken = connection.execute(
        update(bucket)
        .where(bucket.c.workspace_id == workspace_id, bucket.c.key == key, capped >= 1)
        .values(
            tokens=capped - 1,
            refilled_at=case((at > bucket.c.refilled_at, at), else_=bucket.c.refilled_at),
        )
        .returning(bucket.c.id)
    ).first()
    if taken is not None:
        return True
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    created = connection.execute(
        dialect.insert(bucket)
        .values(workspace_id=workspace_id, key=key, tokens=limit.capacity - 1, refilled_at=now)
        .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
        .returning(bucket.c.id)
    ).first()
    return created is not None


def _wait_seconds(connection: Connection, workspace_id: int, key: str, limit: Limit) -> float:
    row = connection.execute(
        select(RateBucket.tokens, RateBucket.refilled_at).where(
            RateBucket.workspace_id == workspace_id, RateBucket.key == key
        )
    ).first()
    if row is None:
        return MIN_WAIT
    level = min(limit.capacity, row.tokens + max(0.0, time.time() - row.refilled_at) * limit.rate)
    return max(MIN_WAIT, (1 - float(level)) / limit.rate)


class DatabaseLimiter:
    """The buckets of one workspace. `session`, when given, is the caller's unit of work
    (used on SQLite only, and only while it holds the write lock)."""

    def __init__(self, engine: Engine, workspace_id: int, session: Session | None = None) -> None:
        self.engine = engine
        self.workspace_id = workspace_id
        self.session = session
        self._sqlite = engine.dialect.name == "sqlite"

    def try_acquire(self, key: str, limit: Limit) -> float | None:
        """Take a token if one is there (None), else return the seconds until the next one."""
        if self._sqlite and self.session is not None and self.session.in_transaction():
            return self._try(self.session.connection(), key, limit)
        with self.engine.begin() as connection:
            if not self._sqlite:
                # A bucket need not survive a crash: skip waiting for the WAL flush.
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            return self._try(connection, key, limit)

    def _try(self, connection: Connection, key: str, limit: Limit) -> float | None:
        if _take(connection, self.workspace_id, key, limit, time.time()):
            return None
        return _wait_seconds(connection, self.workspace_id, key, limit)

    async def acquire(self, key: str, limit: Limit) -> None:
        """Take a token, sleeping (without blocking the event loop) while the bucket is empty."""
        while (wait := self.try_acquire(key, limit)) is not None:
            # Jitter so processes woken together do not all race for the same token.
            await asyncio.sleep(wait + random.uniform(0, wait / 4))  # noqa: S311 - not crypto
