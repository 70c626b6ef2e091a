"""What a rule is compiled against: the workspace, the moment, its calendar and dialect."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CompileContext:
    workspace_id: int
    now: datetime
    timezone: ZoneInfo
    dialect: str = "sqlite"
    # Event type -> properties with their own daily counters (EventType.counted_properties).
    counted: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.timezone).date()

    def day_start(self, day: date) -> datetime:
        """Local midnight of `day`, in UTC."""
        return datetime.combine(day, time(), self.timezone).astimezone(UTC)

    def window_start(self, days: int) -> datetime:
        """Start of a window of `days` calendar days ending today."""
        return self.day_start(self.today - timedelta(days=days - 1))
