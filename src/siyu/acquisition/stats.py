"""Per-code statistics: adds per day, losses, retention, per staff, welcome outcomes."""

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from siyu.acquisition import roster, service
from siyu.acquisition.repository import AcquisitionRepository
from siyu.acquisition.schemas import (
    DayCount,
    LiveCodeAddOut,
    LiveCodeStats,
    Retention,
    StaffStats,
    WelcomeStatus,
)
from siyu.kit.time import utcnow
from siyu.staff import service as staff_service


def _retention(
    rows: list[tuple[int, datetime, datetime | None, str]], days: int, now: datetime
) -> Retention:
    window = timedelta(days=days)
    eligible = [(added, lost) for _, added, lost, _ in rows if added <= now - window]
    retained = sum(1 for added, lost in eligible if lost is None or lost - added > window)
    return Retention(
        eligible=len(eligible),
        retained=retained,
        rate=round(retained / len(eligible), 4) if eligible else None,
    )


def code_stats(session: Session, workspace_id: int, code_id: int, *, days: int) -> LiveCodeStats:
    """Statistics of one code; `per_day` covers the last `days` local days, oldest first."""
    code = service.get_code(session, workspace_id, code_id)
    repo = AcquisitionRepository(session, workspace_id)
    rows = repo.stats_rows(code.id)
    now = utcnow()
    local = roster.local_now(session, workspace_id, now)
    zone = local.tzinfo
    first_day = local.date() - timedelta(days=days - 1)
    adds_by_day = Counter(added.astimezone(zone).date() for _, added, _, _ in rows)
    losses_by_day = Counter(lost.astimezone(zone).date() for _, _, lost, _ in rows if lost)
    per_day = [
        DayCount(day=day, adds=adds_by_day[day], losses=losses_by_day[day])
        for day in (first_day + timedelta(days=n) for n in range(days))
    ]
    welcome = Counter(status for _, _, _, status in rows)
    staff_ids = sorted({staff_id for staff_id, _, _, _ in rows})
    names = staff_service.staff_names(session, workspace_id, staff_ids)
    per_staff = []
    for staff_id in staff_ids:
        mine = [r for r in rows if r[0] == staff_id]
        statuses = Counter(r[3] for r in mine)
        per_staff.append(
            StaffStats(
                staff_id=staff_id,
                staff_name=names.get(staff_id),
                adds=len(mine),
                losses=sum(1 for r in mine if r[2] is not None),
                welcome_sent=statuses[WelcomeStatus.SENT.value],
                welcome_failed=statuses[WelcomeStatus.FAILED.value],
            )
        )
    per_staff.sort(key=lambda s: (-s.adds, s.staff_id))
    return LiveCodeStats(
        total_adds=len(rows),
        losses=sum(1 for r in rows if r[2] is not None),
        welcome_sent=welcome[WelcomeStatus.SENT.value],
        welcome_failed=welcome[WelcomeStatus.FAILED.value],
        welcome_skipped=welcome[WelcomeStatus.SKIPPED.value],
        retention_7d=_retention(rows, 7, now),
        retention_30d=_retention(rows, 30, now),
        per_day=per_day,
        per_staff=per_staff,
    )


def code_adds(
    session: Session, workspace_id: int, code_id: int, *, limit: int, before_id: int | None
) -> list[LiveCodeAddOut]:
    """The latest adds of a code, newest first, with their welcome outcome."""
    code = service.get_code(session, workspace_id, code_id)
    rows = AcquisitionRepository(session, workspace_id).adds_of(
        code.id, limit=limit, before_id=before_id
    )
    return [LiveCodeAddOut.model_validate(row) for row in rows]
