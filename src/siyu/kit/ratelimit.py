"""Rate limits shared by every process through the database: token buckets and windows.

A token bucket (`Limit`) is one `rate_bucket` row per (workspace, key). Taking a token is one
atomic UPDATE that adds the refill since `refilled_at`, caps it at the capacity and takes one
token only if a whole token is there.

A window limit (`WindowLimit`) allows at most `calls` calls in any span of `seconds`, for each
of its windows: the whole quota may go at once, then callers wait until the oldest calls
leave the window. That is how WeCom counts (10,000 calls a minute and 150,000 an hour per
API), so a burst of a minute's quota is allowed where a token bucket would pace it. Each
window keeps a ring of `SLOTS + 2` rows per key, one per slot of `seconds / SLOTS`: `tokens`
holds the calls made in the slot, `refilled_at` the slot's number. A call is allowed when
the slots that can still hold calls of the last `seconds` (the current one, the `SLOTS`
before it, and one more for the time a request takes to reach the server) hold fewer than
`calls`; its slot then counts it. Reading the ring and counting the call happen under one
lock: PostgreSQL's transaction-scoped advisory lock on (workspace, key), SQLite's write lock.

Every take runs in a short transaction on a connection of its own (on PostgreSQL without
waiting for the WAL flush, as no limit need survive a crash) — or on SQLite, when the
caller's session already holds the write lock, inside that transaction, since a second
connection would only wait for the caller to finish.
"""

import asyncio
import hashlib
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine, Float, Table, case, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.models.rate_bucket import RateBucket

MIN_WAIT = 0.001
# Jitter after a wait, so processes woken together do not all race for the same call.
MAX_JITTER = 0.05
SLOTS = 60


@dataclass(frozen=True, slots=True)
class Limit:
    """A token bucket: `rate` tokens per second, bursts of up to `capacity` tokens."""

    rate: float
    capacity: float


@dataclass(frozen=True, slots=True)
class Window:
    """At most `calls` calls in any span of `seconds`."""

    calls: int
    seconds: float


@dataclass(frozen=True, slots=True)
class WindowLimit:
    """Every one of `windows` at once, e.g. 10,000 a minute and 150,000 an hour."""

    windows: tuple[Window, ...]

    @property
    def rate(self) -> float:
        """The calls per second the windows allow in the long run."""
        return min(w.calls / w.seconds for w in self.windows)


RateLimit = Limit | WindowLimit


class Limiter(Protocol):
    async def acquire(self, key: str, limit: RateLimit) -> None: ...


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


# -- windows ---------------------------------------------------------------------------

RING = SLOTS + 2
# Slots counted with the current one: the SLOTS before it cover the window, one more
# covers calls that were allowed just before the window began but reached the server in it.
COUNTED = SLOTS + 1


def _ring_key(key: str, window: Window, slot: int) -> str:
    return f"{key}@{window.seconds:g}s#{slot % RING}"


def _lock(connection: Connection, workspace_id: int, key: str) -> None:
    if connection.dialect.name == "postgresql":
        digest = hashlib.blake2b(f"{workspace_id}:{key}".encode(), digest_size=8).digest()
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:id)"),
            {"id": int.from_bytes(digest, "big", signed=True)},
        )


def _window_wait(window: Window, slots: dict[int, float], current: int, now: float) -> float:
    """Seconds until the calls counted for `current` drop below the window's quota (0: now)."""
    live = sorted((slot, calls) for slot, calls in slots.items() if slot >= current - COUNTED)
    excess = sum(calls for _, calls in live) - (window.calls - 1)
    for slot, calls in live:
        if excess <= 0:
            break
        excess -= calls
        freed_at = (slot + COUNTED + 1) * (window.seconds / SLOTS)
        if excess <= 0:
            return max(MIN_WAIT, freed_at - now)
    return 0.0


def _take_windows(
    connection: Connection, workspace_id: int, key: str, limit: WindowLimit, now: float
) -> float | None:
    _lock(connection, workspace_id, key)
    currents = [math.floor(now / (w.seconds / SLOTS)) for w in limit.windows]
    keys = {
        _ring_key(key, w, slot): index
        for index, w in enumerate(limit.windows)
        for slot in range(RING)
    }
    slots: list[dict[int, float]] = [{} for _ in limit.windows]
    for ring_key, calls, slot in connection.execute(
        select(RateBucket.key, RateBucket.tokens, RateBucket.refilled_at).where(
            RateBucket.workspace_id == workspace_id, RateBucket.key.in_(list(keys))
        )
    ):
        slots[keys[ring_key]][int(slot)] = float(calls)
    wait = max(
        _window_wait(w, s, current, now)
        for w, s, current in zip(limit.windows, slots, currents, strict=True)
    )
    if wait > 0:
        return wait
    _count(connection, workspace_id, key, limit.windows, currents)
    return None


def _count(
    connection: Connection,
    workspace_id: int,
    key: str,
    windows: Sequence[Window],
    currents: Sequence[int],
) -> None:
    """One more call in each window's current slot (a slot left from a lap ago restarts)."""
    bucket: Table = RateBucket.__table__  # type: ignore[assignment]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(bucket)
    same_slot = bucket.c.refilled_at == insert.excluded.refilled_at
    connection.execute(
        insert.values(
            [
                {
                    "workspace_id": workspace_id,
                    "key": _ring_key(key, w, current),
                    "tokens": 1.0,
                    "refilled_at": float(current),
                }
                for w, current in zip(windows, currents, strict=True)
            ]
        ).on_conflict_do_update(
            index_elements=["workspace_id", "key"],
            set_={
                "tokens": case((same_slot, bucket.c.tokens + 1), else_=1.0),
                "refilled_at": insert.excluded.refilled_at,
            },
        )
    )


class DatabaseLimiter:
    """The limits of one workspace. `session`, when given, is the caller's unit of work
    (used on SQLite only, and only while it holds the write lock)."""

    def __init__(self, engine: Engine, workspace_id: int, session: Session | None = None) -> None:
        self.engine = engine
        self.workspace_id = workspace_id
        self.session = session
        self._sqlite = engine.dialect.name == "sqlite"

    def try_acquire(self, key: str, limit: RateLimit) -> float | None:
        """Take a call if the limit allows one now (None), else return the seconds to wait."""
        if self._sqlite and self.session is not None and self.session.in_transaction():
            return self._try(self.session.connection(), key, limit)
        with self.engine.begin() as connection:
            if not self._sqlite:
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            return self._try(connection, key, limit)

    def _try(self, connection: Connection, key: str, limit: RateLimit) -> float | None:
        now = time.time()
        if isinstance(limit, WindowLimit):
            return _take_windows(connection, self.workspace_id, key, limit, now)
        if _take(connection, self.workspace_id, key, limit, now):
            return None
        return _wait_seconds(connection, self.workspace_id, key, limit)

    async def acquire(self, key: str, limit: RateLimit) -> None:
        """Take a call, sleeping (without blocking the event loop) while the limit is reached."""
        while (wait := self.try_acquire(key, limit)) is not None:
            await asyncio.sleep(wait + random.uniform(0, min(wait / 4, MAX_JITTER)))  # noqa: S311 - not crypto
