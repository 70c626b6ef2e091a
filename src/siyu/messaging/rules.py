"""A workspace's messaging rules: quiet hours, frequency caps, WeCom's mass-message quota."""

from calendar import monthrange
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.messaging.schemas import MessagingRules
from siyu.workspace import service as workspace_service

SETTINGS_KEY = "messaging"


def read(session: Session, workspace_id: int) -> MessagingRules:
    workspace = workspace_service.get_workspace(session, workspace_id)
    return MessagingRules.model_validate((workspace.settings or {}).get(SETTINGS_KEY) or {})


def write(session: Session, workspace_id: int, rules: MessagingRules) -> MessagingRules:
    workspace = workspace_service.get_workspace(session, workspace_id)
    workspace.settings = {**(workspace.settings or {}), SETTINGS_KEY: rules.model_dump(mode="json")}
    session.flush()
    return rules


def zone(session: Session, workspace_id: int) -> ZoneInfo:
    return ZoneInfo(workspace_service.get_workspace(session, workspace_id).timezone)


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(rules: MessagingRules, now: datetime, tz: ZoneInfo) -> datetime | None:
    """When the quiet hours around `now` end, or None when sending is allowed now."""
    if rules.quiet_hours is None:
        return None
    start, end = _clock(rules.quiet_hours.start), _clock(rules.quiet_hours.end)
    local = now.astimezone(tz)
    clock = local.time()
    if start == end:
        return None
    overnight = start > end
    quiet = (clock >= start or clock < end) if overnight else (start <= clock < end)
    if not quiet:
        return None
    day = local.date()
    if overnight and clock >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, tz)


def quota_window(rule: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, int]:
    """Start of the current quota period in the workspace's calendar and messages allowed in it."""
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), time(), tz)
    if rule == "day":
        return today, 1
    if rule == "week":
        return today - timedelta(days=local.weekday()), 7
    first = today.replace(day=1)
    return first, monthrange(local.year, local.month)[1]
