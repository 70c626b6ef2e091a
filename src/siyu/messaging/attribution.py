"""Clicks and conversions of a broadcast, overall and per sending staff member and variant."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce import service as commerce_service
from siyu.models import Broadcast, Delivery


@dataclass
class Tally:
    clicked: int = 0
    converted: int = 0
    converted_fen: int = 0


@dataclass
class Attribution:
    overall: Tally = field(default_factory=Tally)
    by_staff: dict[str, Tally] = field(default_factory=dict)
    by_variant: dict[str, Tally] = field(default_factory=dict)


def attribute(
    session: Session, broadcast: Broadcast, clicks: Mapping[int, datetime]
) -> Attribution:
    """Credit each clicking customer, and what they paid within the attribution window, to
    the staff member and variant of their delivery."""
    paid = commerce_service.conversions(
        session, broadcast.workspace_id, clicks, timedelta(days=broadcast.attribution_days)
    )
    found = Attribution()
    ids = list(clicks)
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(Delivery.customer_id, Delivery.staff_id, Delivery.variant).where(
                Delivery.broadcast_id == broadcast.id,
                Delivery.customer_id.in_(ids[start : start + 1000]),
            )
        )
        for customer_id, staff_id, variant in rows:
            tallies = [found.overall]
            tallies.append(found.by_staff.setdefault(str(staff_id or "none"), Tally()))
            if variant is not None:
                tallies.append(found.by_variant.setdefault(variant, Tally()))
            for tally in tallies:
                tally.clicked += 1
                if customer_id in paid:
                    tally.converted += 1
                    tally.converted_fen += paid[customer_id]
    return found
