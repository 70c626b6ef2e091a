from datetime import date

from sqlalchemy import BigInteger, ForeignKey, Index, PrimaryKeyConstraint, String
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
        # On PostgreSQL the key carries the count: a window of one type and dimension is
        # read from the index alone, not from heap rows scattered in the order they came.
        PrimaryKeyConstraint(
            "workspace_id",
            "event_type",
            "dimension",
            "day",
            "customer_id",
            postgresql_include=["count"],
        ),
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
        BigIntId, ForeignKey("workspace.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(160))
    day: Mapped[date]
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customer.id", ondelete="CASCADE")
    )
    count: Mapped[int] = mapped_column(default=0)
