"""Keeping each code's WeCom contact way on the staff who are on duty now."""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.acquisition import duty, wecom
from siyu.acquisition.repository import AcquisitionRepository
from siyu.acquisition.schemas import LiveCodeStatus
from siyu.kit.time import utcnow
from siyu.models import LiveCode, LiveCodeStaff, Schedule
from siyu.staff import service as staff_service
from siyu.workspace import service as workspace_service

CONTACT_WAY_REMARK_MAX = 30
REFRESH_JOB = "acquisition.refresh_live_codes"
REFRESH_CRON = "* * * * *"


def local_now(session: Session, workspace_id: int, now: datetime | None = None) -> datetime:
    zone = ZoneInfo(workspace_service.get_workspace(session, workspace_id).timezone)
    return (now or utcnow()).astimezone(zone)


def start_of_day(local: datetime) -> datetime:
    return datetime.combine(local.date(), time(), tzinfo=local.tzinfo)


@dataclass(frozen=True)
class Duty:
    """What the contact way should hold now, and today's adds per member."""

    roster: duty.Roster
    skip_verify: bool
    adds_today: dict[int, int]


def _reachable(
    session: Session, workspace_id: int, members: Sequence[LiveCodeStaff]
) -> list[LiveCodeStaff]:
    """Members WeCom can hand customers to: active staff with a WeCom userid (a member who
    left since the code was saved drops out and the others, or the backups, take over)."""
    reachable = []
    for member in members:
        staff = staff_service.get_staff(session, workspace_id, member.staff_id)
        if staff.status == "active" and staff.wecom_userid:
            reachable.append(member)
    return reachable


def current_duty(
    session: Session,
    code: LiveCode,
    members: Sequence[LiveCodeStaff],
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
    advance: bool = False,
) -> Duty:
    repo = AcquisitionRepository(session, code.workspace_id)
    local = local_now(session, code.workspace_id, now)
    adds_today = repo.adds_per_staff(code.id, start_of_day(local))
    roster = duty.choose_roster(
        [
            duty.Member(
                staff_id=m.staff_id,
                weight=m.weight,
                daily_cap=m.daily_cap,
                schedule=duty.parse_schedule(m.schedule),
                is_backup=m.is_backup,
            )
            for m in _reachable(session, code.workspace_id, members)
        ],
        code_type=duty.CodeType(code.code_type),
        rotation=duty.Rotation(code.rotation),
        code_cap=code.daily_cap,
        adds_today=adds_today,
        local_now=local,
        last_staff_id=repo.last_staff_id(code.id),
        rng=rng or random.Random(),  # noqa: S311 - spreading adds, not security
        keep=() if advance else code.on_duty_staff_ids,
    )
    skip = duty.skip_verify_now(code.skip_verify, code.skip_verify_from, code.skip_verify_to, local)
    return Duty(roster, skip, adds_today)


def _userids(session: Session, workspace_id: int, staff_ids: Sequence[int]) -> list[str]:
    userids = []
    for staff_id in staff_ids:
        userid = staff_service.get_staff(session, workspace_id, staff_id).wecom_userid
        if userid:
            userids.append(userid)
    return userids


async def sync_contact_way(
    session: Session,
    code: LiveCode,
    *,
    force: bool = False,
    now: datetime | None = None,
    advance: bool = False,
) -> bool:
    """Make WeCom's contact way hold the current roster; True when WeCom was called.

    `advance` after an add: a random rotation draws again. Creates the contact way when
    the code has none yet. Raises WeCom's refusal.
    """
    members = AcquisitionRepository(session, code.workspace_id).members([code.id])[code.id]
    now_duty = current_duty(session, code, members, now=now, advance=advance)
    staff_ids = list(now_duty.roster.staff_ids)
    unchanged = (
        code.config_id is not None
        and staff_ids == list(code.on_duty_staff_ids)
        and now_duty.skip_verify == code.skip_verify_applied
    )
    if unchanged and not force:
        return False
    way = wecom.ContactWay(
        code_type=code.code_type,
        state=code.state,
        remark=code.name[:CONTACT_WAY_REMARK_MAX],
        skip_verify=now_duty.skip_verify,
        userids=_userids(session, code.workspace_id, staff_ids),
    )
    if code.config_id is None:
        code.config_id, qr_code = await wecom.add_contact_way(session, code.workspace_id, way)
        if qr_code != code.qr_code:
            code.qr_code, code.qr_image = qr_code, None
    else:
        await wecom.update_contact_way(session, code.workspace_id, code.config_id, way)
    code.on_duty_staff_ids = staff_ids
    code.skip_verify_applied = now_duty.skip_verify
    code.synced_at = utcnow()
    code.sync_error = None
    session.flush()
    return True


def ensure_refresh_schedule(session: Session, workspace_id: int) -> None:
    key = f"{REFRESH_JOB}:{workspace_id}"
    if session.scalar(select(Schedule.id).where(Schedule.key == key)) is None:
        session.add(
            Schedule(
                workspace_id=workspace_id,
                key=key,
                cron=REFRESH_CRON,
                job_name=REFRESH_JOB,
                payload={},
                next_run_at=utcnow(),
            )
        )
        session.flush()


async def refresh_codes(
    session: Session, workspace_id: int, *, now: datetime | None = None
) -> dict[str, int]:
    """Re-evaluate every active code's roster; record WeCom refusals on the code."""
    repo = AcquisitionRepository(session, workspace_id)
    losses = repo.mark_losses()
    updated = failed = 0
    for code in repo.codes(LiveCodeStatus.ACTIVE.value):
        try:
            updated += await sync_contact_way(session, code, now=now)
        except wecom.WecomApiError as exc:
            code.sync_error = wecom.describe(exc)[:500]
            failed += 1
    session.flush()
    return {"updated": updated, "failed": failed, "losses": losses}
