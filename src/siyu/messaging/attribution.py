"""Clicks and conversions of a broadcast, overall and per sending staff member and variant.

Two kinds of links are clicked. A customer's own link (email, SMS) is that customer's
click. A link a staff member sent to many at once (WeCom) is clicked by browsers: one
known as a customer makes it that customer's click; an anonymous one is a click of the
link's staff member that no customer (and no order) can be credited with.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce import service as commerce_service
from siyu.content import staff_links
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

    def credit(self, tallies: list[Tally], paid: int | None) -> None:
        for tally in tallies:
            tally.clicked += 1
            if paid is not None:
                tally.converted += 1
                tally.converted_fen += paid

    def staff(self, staff_id: int | None) -> Tally:
        return self.by_staff.setdefault(str(staff_id or "none"), Tally())


def attribute(
    session: Session, broadcast: Broadcast, clicks: Mapping[int, datetime]
) -> Attribution:
    """Credit each clicking customer (`clicks`: customer id -> first click of their own
    link), and what they paid within the attribution window after their first click, to
    the staff member and variant of their delivery. Clicks of staff members' links count
    for the link's staff member: once per customer the browser is known as, else once per
    browser; a known customer with a delivery of the broadcast is credited as above."""
    staff_clicks = staff_links.clicks(session, broadcast.workspace_id, broadcast.id)
    first = dict(clicks)
    for click in staff_clicks:
        if click.customer_id is not None:
            known = first.get(click.customer_id)
            first[click.customer_id] = (
                click.first_at if known is None else min(known, click.first_at)
            )
    paid = commerce_service.conversions(
        session, broadcast.workspace_id, first, timedelta(days=broadcast.attribution_days)
    )
    found = Attribution()
    delivered: set[int] = set()
    ids = list(first)
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(Delivery.customer_id, Delivery.staff_id, Delivery.variant).where(
                Delivery.workspace_id == broadcast.workspace_id,
                Delivery.broadcast_id == broadcast.id,
                Delivery.customer_id.in_(ids[start : start + 1000]),
            )
        )
        for customer_id, staff_id, variant in rows:
            delivered.add(customer_id)
            tallies = [found.overall, found.staff(staff_id)]
            if variant is not None:
                tallies.append(found.by_variant.setdefault(variant, Tally()))
            found.credit(tallies, paid.get(customer_id))
    # Browsers and customers without a delivery of this broadcast: a group's members, and
    # whoever a staff member's link was forwarded to.
    counted: set[tuple[str, int]] = set()
    staff_counted: set[tuple[int | None, str, int]] = set()
    for click in staff_clicks:
        if click.customer_id in delivered:
            continue
        who = ("c", click.customer_id) if click.customer_id is not None else ("v", click.visitor_id)
        won = paid.get(click.customer_id) if click.customer_id is not None else None
        if who not in counted:
            counted.add(who)
            found.credit([found.overall], won)
        if (click.staff_id, *who) not in staff_counted:
            staff_counted.add((click.staff_id, *who))
            found.credit([found.staff(click.staff_id)], won)
    return found
