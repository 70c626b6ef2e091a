"""Time: stored in UTC, shown in Asia/Shanghai."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime, *, naive_zone: ZoneInfo = SHANGHAI) -> datetime:
    """Aware datetimes convert; naive ones are read in `naive_zone` (platform exports)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=naive_zone)
    return value.astimezone(UTC)


def to_shanghai(value: datetime) -> datetime:
    return value.astimezone(SHANGHAI)
