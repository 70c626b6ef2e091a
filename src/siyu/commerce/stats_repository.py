"""Customer order stats as orders arrive: added in bulk for new orders, recomputed from
the orders for changed ones; all scoped to one workspace."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from siyu.commerce.repository import COUNTED_STATUSES, IN_BATCH, PAID_STATUSES, batched
from siyu.db import bulk
from siyu.db.types import UTCDateTime
from siyu.kit.time import utcnow


@dataclass(frozen=True)
class CustomerStatsDelta:
    order_count: int
    total_paid_fen: int
    first_order_at: datetime | None
    last_order_at: datetime | None


class CustomerStatsRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.dialect = session.get_bind().dialect.name

    def add_to_customer_stats(self, added: dict[int, CustomerStatsDelta]) -> None:
        """Add new orders' figures to the customers' stats (only orders new to them)."""
        if not added:
            return
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {
                "id": customer_id,
                "orders": delta.order_count,
                "paid": delta.total_paid_fen,
                "first": delta.first_order_at,
                "last": delta.last_order_at,
            }
            for customer_id, delta in sorted(added.items())
        ]
        assignments = """
            order_count = order_count + {orders},
            total_paid_fen = total_paid_fen + {paid},
            first_order_at = CASE WHEN {first} IS NOT NULL
                AND (first_order_at IS NULL OR {first} < first_order_at)
                THEN {first} ELSE first_order_at END,
            last_order_at = CASE WHEN {last} IS NOT NULL
                AND (last_order_at IS NULL OR {last} > last_order_at)
                THEN {last} ELSE last_order_at END,
            updated_at = {now}
        """
        if self.dialect == "postgresql":
            set_ = assignments.format(
                orders="given.orders",
                paid="given.paid",
                first="given.first",
                last="given.last",
                now=":now",
            )
            self.session.execute(
                text(
                    f"UPDATE customer SET {set_} "  # noqa: S608 - no user text in the SQL
                    "FROM json_to_recordset(CAST(:rows AS json)) AS given(id bigint, "
                    "orders bigint, paid bigint, first timestamptz, last timestamptz) "
                    "WHERE customer.workspace_id = :workspace_id AND customer.id = given.id"
                ).bindparams(bindparam("now", type_=UTCDateTime())),
                {
                    "rows": json.dumps(rows, default=datetime.isoformat),
                    "workspace_id": self.workspace_id,
                    "now": now,
                },
            )
            return
        # Numbered parameters, so each row is a tuple (the driver binds them faster).
        set_ = assignments.format(orders="?1", paid="?2", first="?3", last="?4", now="?5")
        stamp = bulk.sqlite_datetime(now)
        self.session.connection().exec_driver_sql(
            f"UPDATE customer SET {set_} "  # noqa: S608 - no user text in the SQL
            "WHERE workspace_id = ?6 AND id = ?7",
            [
                (
                    delta.order_count,
                    delta.total_paid_fen,
                    bulk.sqlite_datetime(delta.first_order_at),
                    bulk.sqlite_datetime(delta.last_order_at),
                    stamp,
                    self.workspace_id,
                    customer_id,
                )
                for customer_id, delta in sorted(added.items())
            ],
        )

    def refresh_customer_stats(self, customer_ids: Sequence[int]) -> None:
        """Set the customers' order stats from their orders in one UPDATE per 2,000 ids.

        Counted: paid, shipped and completed orders. Total paid: what was paid minus what
        was refunded, over paid, shipped, completed and refunded orders. A customer without
        such orders gets zeros and no dates.
        """
        postgres = self.dialect == "postgresql"
        wanted = (
            "= ANY(CAST(:ids AS bigint[]))"
            if postgres
            else "IN (SELECT value FROM json_each(:ids))"
        )
        counted = ", ".join(f"'{status}'" for status in COUNTED_STATUSES)
        paid = ", ".join(f"'{status}'" for status in PAID_STATUSES)
        # One aggregate per customer over its index; statuses are constants of this module.
        sql = text(
            f"""
            UPDATE customer SET
                (order_count, total_paid_fen, first_order_at, last_order_at) = (
                    SELECT count(CASE WHEN o.status IN ({counted}) THEN 1 END),
                        CAST(COALESCE(sum(CASE WHEN o.status IN ({paid})
                            THEN o.paid_fen - o.refunded_fen ELSE 0 END), 0) AS BIGINT),
                        min(CASE WHEN o.status IN ({counted}) THEN o.ordered_at END),
                        max(CASE WHEN o.status IN ({counted}) THEN o.ordered_at END)
                    FROM customer_order AS o
                    WHERE o.workspace_id = :workspace_id AND o.customer_id = customer.id
                ),
                updated_at = :now
            WHERE customer.workspace_id = :workspace_id AND customer.id {wanted}
            """  # noqa: S608
        ).bindparams(bindparam("now", type_=UTCDateTime()))
        now = utcnow()
        for batch in batched(sorted(set(customer_ids)), IN_BATCH):
            self.session.execute(
                sql,
                {
                    "ids": batch if postgres else json.dumps(batch),
                    "workspace_id": self.workspace_id,
                    "now": now,
                },
            )
