import random
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from siyu.acquisition.duty import (
    CodeType,
    Member,
    Rotation,
    choose_roster,
    in_window,
    parse_clock,
    parse_schedule,
    skip_verify_now,
)

LOCAL = ZoneInfo("Asia/Shanghai")
# A Monday.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=LOCAL)
MONDAY_20 = datetime(2026, 11, 23, 20, 0, tzinfo=LOCAL)
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL)
OFFICE = parse_schedule([{"weekdays": [1, 2, 3, 4, 5], "ranges": [["09:00", "18:00"]]}])


def roster(
    members: list[Member],
    *,
    code_type: CodeType = CodeType.MULTI,
    rotation: Rotation = Rotation.ROUND_ROBIN,
    code_cap: int | None = None,
    adds_today: dict[int, int] | None = None,
    now: datetime = MONDAY_10,
    last: int | None = None,
    seed: int = 1,
    keep: tuple[int, ...] = (),
) -> tuple[tuple[int, ...], bool]:
    result = choose_roster(
        members,
        code_type=code_type,
        rotation=rotation,
        code_cap=code_cap,
        adds_today=adds_today or {},
        local_now=now,
        last_staff_id=last,
        rng=random.Random(seed),
        keep=keep,
    )
    return result.staff_ids, result.fallback


def test_round_robin_takes_the_next_member_after_the_last_add_and_wraps() -> None:
    members = [Member(1), Member(2), Member(3)]

    assert roster(members, last=None) == ((1,), False)
    assert roster(members, last=1) == ((2,), False)
    assert roster(members, last=3) == ((1,), False)


def test_round_robin_skips_members_off_shift_or_at_their_cap() -> None:
    members = [Member(1), Member(2, schedule=OFFICE), Member(3, daily_cap=2)]

    assert roster(members, last=1, now=MONDAY_20) == ((3,), False)
    assert roster(members, last=2, adds_today={3: 2}) == ((1,), False)


def test_code_cap_applies_unless_the_member_has_its_own() -> None:
    members = [Member(1), Member(2, daily_cap=10)]

    assert roster(members, rotation=Rotation.LEAST_LOAD, code_cap=3, adds_today={1: 3, 2: 5}) == (
        (2,),
        False,
    )


def test_least_load_picks_fewest_adds_per_weight_ties_by_order() -> None:
    members = [Member(1, weight=1), Member(2, weight=3), Member(3, weight=1)]

    assert roster(members, rotation=Rotation.LEAST_LOAD, adds_today={1: 2, 2: 5, 3: 2}) == (
        (2,),
        False,
    )
    assert roster(members, rotation=Rotation.LEAST_LOAD) == ((1,), False)


def test_random_draws_by_weight() -> None:
    members = [Member(1, weight=1), Member(2, weight=9)]

    draws = Counter(
        roster(members, rotation=Rotation.RANDOM, seed=seed)[0][0] for seed in range(400)
    )

    assert set(draws) == {1, 2}
    assert draws[2] > 3 * draws[1]


def test_random_keeps_the_current_member_between_adds_while_eligible() -> None:
    members = [Member(1), Member(2), Member(3, daily_cap=1)]

    kept = {
        roster(members, rotation=Rotation.RANDOM, seed=seed, keep=(2,))[0] for seed in range(50)
    }
    capped = roster(members, rotation=Rotation.RANDOM, keep=(3,), adds_today={3: 1})[0]

    assert kept == {(2,)}
    assert capped != (3,)


def test_backups_take_over_when_primaries_are_off_shift_or_capped() -> None:
    members = [Member(1, schedule=OFFICE), Member(2, daily_cap=1), Member(9, is_backup=True)]

    assert roster(members, now=SATURDAY_10, adds_today={2: 1}) == ((9,), False)
    assert roster(members, now=MONDAY_10, adds_today={2: 1}) == ((1,), False)


def test_nobody_eligible_falls_back_to_backups_then_primaries() -> None:
    capped = {1: 5, 9: 5}

    with_backup = [Member(1, daily_cap=5), Member(9, is_backup=True, daily_cap=5)]
    without_backup = [Member(1, daily_cap=5)]

    assert roster(with_backup, adds_today=capped) == ((9,), True)
    assert roster(without_backup, adds_today=capped) == ((1,), True)


def test_single_code_keeps_its_one_member_while_eligible() -> None:
    members = [Member(1, schedule=OFFICE), Member(9, is_backup=True)]

    assert roster(members, code_type=CodeType.SINGLE, last=1) == ((1,), False)
    assert roster(members, code_type=CodeType.SINGLE, now=MONDAY_20) == ((9,), False)


def test_schedule_ranges_are_half_open_and_respect_weekdays() -> None:
    shifts = parse_schedule(
        [{"weekdays": [6, 7], "ranges": [["08:00", "12:00"], ["13:00", "24:00"]]}]
    )
    members = [Member(1, schedule=shifts), Member(9, is_backup=True)]

    assert roster(members, now=datetime(2026, 11, 28, 12, 0, tzinfo=LOCAL)) == ((9,), False)
    assert roster(members, now=datetime(2026, 11, 28, 11, 59, tzinfo=LOCAL)) == ((1,), False)
    assert roster(members, now=datetime(2026, 11, 29, 23, 59, tzinfo=LOCAL)) == ((1,), False)
    assert roster(members, now=datetime(2026, 11, 27, 23, 59, tzinfo=LOCAL)) == ((9,), False)


def test_skip_verify_window_wraps_past_midnight() -> None:
    assert skip_verify_now(True, None, None, MONDAY_10)
    assert not skip_verify_now(False, None, None, MONDAY_10)
    assert skip_verify_now(True, "09:00", "18:00", MONDAY_10)
    assert not skip_verify_now(True, "09:00", "18:00", MONDAY_20)
    assert in_window("22:00", "08:00", datetime(2026, 11, 23, 23, 30, tzinfo=LOCAL))
    assert in_window("22:00", "08:00", datetime(2026, 11, 23, 7, 59, tzinfo=LOCAL))
    assert not in_window("22:00", "08:00", MONDAY_10)


@pytest.mark.parametrize("value", ["9:00", "24:01", "12:60", "ab:cd", "1200"])
def test_malformed_clock_times_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|time of day"):
        parse_clock(value)
