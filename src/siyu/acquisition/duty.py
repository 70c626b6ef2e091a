"""Who is on duty on a live code right now: schedules, daily caps, backups and rotation.

Pure functions of the code's settings, today's add counts and the local time, so the
API, the after-add job and the scheduled re-evaluation agree on one answer.
"""

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

MINUTES_PER_DAY = 24 * 60


class CodeType(StrEnum):
    SINGLE = "single"
    MULTI = "multi"


class Rotation(StrEnum):
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    LEAST_LOAD = "least_load"


def parse_clock(value: str) -> int:
    """ "HH:MM" (00:00–24:00) as minutes after midnight; ValueError when malformed."""
    hours, sep, minutes = value.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        msg = f"{value!r} is not HH:MM"
        raise ValueError(msg)
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MINUTES_PER_DAY:
        msg = f"{value!r} is not a time of day"
        raise ValueError(msg)
    return total


@dataclass(frozen=True)
class Shift:
    """Working time on some weekdays (1 = Monday … 7 = Sunday), as [start, end) minutes."""

    weekdays: frozenset[int]
    ranges: tuple[tuple[int, int], ...]

    def covers(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return local.isoweekday() in self.weekdays and any(
            start <= minute < end for start, end in self.ranges
        )


def parse_schedule(raw: Iterable[Mapping[str, Any]]) -> tuple[Shift, ...]:
    """The stored schedule (already validated) as shifts."""
    return tuple(
        Shift(
            weekdays=frozenset(int(day) for day in item["weekdays"]),
            ranges=tuple((parse_clock(start), parse_clock(end)) for start, end in item["ranges"]),
        )
        for item in raw
    )


def on_shift(schedule: Sequence[Shift], local: datetime) -> bool:
    """No schedule means always on duty."""
    return not schedule or any(shift.covers(local) for shift in schedule)


def in_window(start: str | None, end: str | None, local: datetime) -> bool:
    """Whether local time falls in a daily window; a window past midnight wraps (22:00–08:00)."""
    if start is None or end is None:
        return True
    minute = local.hour * 60 + local.minute
    low, high = parse_clock(start), parse_clock(end)
    if low <= high:
        return low <= minute < high
    return minute >= low or minute < high


def skip_verify_now(
    skip_verify: bool, window_from: str | None, window_to: str | None, local: datetime
) -> bool:
    """Adds skip verification only when enabled and, with a window, inside it."""
    return skip_verify and in_window(window_from, window_to, local)


@dataclass(frozen=True)
class Member:
    staff_id: int
    weight: int = 1
    daily_cap: int | None = None
    schedule: tuple[Shift, ...] = ()
    is_backup: bool = False


@dataclass(frozen=True)
class Roster:
    """The staff to put in the contact way; `fallback` when nobody was eligible."""

    staff_ids: tuple[int, ...]
    fallback: bool = False


def choose_roster(
    members: Sequence[Member],
    *,
    code_type: CodeType,
    rotation: Rotation,
    code_cap: int | None,
    adds_today: Mapping[int, int],
    local_now: datetime,
    last_staff_id: int | None,
    rng: random.Random,
    keep: Sequence[int] = (),
) -> Roster:
    """The staff who receive the next add.

    Eligible are the primary staff on shift and under their daily cap (their own cap, else
    the code's); when none is, the backups on shift and under cap. When nobody at all is
    eligible the code must still reach someone: all backups, else all primaries
    (`fallback`). A single code puts its one eligible member in the contact way. A multi
    code puts one member there at a time and moves on after each add: round robin takes
    the next in order after the last one added to, random draws by weight, least load
    takes the fewest adds today per unit of weight. A random draw keeps a member of `keep`
    (the contact way's current staff) while still eligible, so re-evaluating between adds
    does not re-draw.
    """
    if not members:
        return Roster(())

    def under_cap(member: Member) -> bool:
        cap = member.daily_cap if member.daily_cap is not None else code_cap
        return cap is None or adds_today.get(member.staff_id, 0) < cap

    def eligible(backup: bool) -> list[Member]:
        return [
            m
            for m in members
            if m.is_backup is backup and on_shift(m.schedule, local_now) and under_cap(m)
        ]

    pool = eligible(False) or eligible(True)
    fallback = not pool
    if fallback:
        pool = [m for m in members if m.is_backup] or list(members)
    if code_type is CodeType.SINGLE or len(pool) == 1:
        return Roster((pool[0].staff_id,), fallback)
    kept = [m for m in pool if m.staff_id in keep]
    if rotation is Rotation.RANDOM and kept:
        picked = kept[0]
    elif rotation is Rotation.RANDOM:
        picked = rng.choices(pool, weights=[max(m.weight, 1) for m in pool])[0]
    elif rotation is Rotation.LEAST_LOAD:
        picked = min(pool, key=lambda m: adds_today.get(m.staff_id, 0) / max(m.weight, 1))
    else:
        picked = _next_after(members, pool, last_staff_id)
    return Roster((picked.staff_id,), fallback)


def _next_after(members: Sequence[Member], pool: Sequence[Member], last: int | None) -> Member:
    order = [m.staff_id for m in members]
    if last not in order:
        return pool[0]
    last_index = order.index(last)
    later = [m for m in pool if order.index(m.staff_id) > last_index]
    return later[0] if later else pool[0]
