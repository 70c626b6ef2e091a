from datetime import date

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base
from siyu.db.types import BigIntId


class EventCounter(Base):
    """Events per customer, type and day (workspace time zone), kept as events arrive.

    `dimension` is '' for all events of the type, or "<property>=<value>" for a property
    the event type counts (EventType.counted_properties), so windowed "did at least N
    times" conditions read a few rows per customer instead of the raw events.
    """

    __tablename__ = "event_counter"
    # A customer's counters of one kind in a window are one short range: refreshes of
    # changed customers read them customer by customer.
    __table_args__ = (
        Index(
            "ix_event_counter_customer",
            "workspace_id",
            "customer_id",
            "event_type",
            "dimension",
            "day",
        ),
        # Stored in key order on SQLite: a window of one type and dimension is one range
        # holding its counts (a rowid table would look each count up).
        {"sqlite_with_rowid": False},
    )

    workspace_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(160), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(default=0)
