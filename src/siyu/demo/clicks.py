"""What the demo's past broadcasts set off: customers opening their tracked links, some
forwarding them (share edges over up to three levels), and orders after a click.

The rows follow the links service's rules (see content/links.py): a browser is bound to a
customer when it opens that customer's own link; a forwarded link opened by someone else is
a share edge from the link's customer to that browser; an open by a known customer is a
`link_opened` event on their timeline. A WeCom message carries its staff member's links
(content/staff_links.py), the same for everyone it reached: an open of one is a click of
whoever the browser is known as, now or once it opens a link of its own later, and makes
no share edge. They are written directly because they happened in the past; the orders go
through the commerce service.
"""

import random
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.commerce import service as commerce_service
from siyu.commerce.schemas import OrderIn, OrderItemIn
from siyu.connectors.commerce import OrderStatus, Platform
from siyu.content.links import LINK_OPENED
from siyu.demo import data
from siyu.demo.people import ACTOR, Loaded
from siyu.events import registry as event_registry
from siyu.events import service as events_service
from siyu.events.schemas import CustomerRefIn, EventIn, EventTypeIn
from siyu.exceptions import NotFound, SiyuError
from siyu.messaging import opens as messaging_opens
from siyu.messaging.schemas import Channel
from siyu.models import Broadcast, Customer, Delivery, LinkVisit, LinkVisitor, ShareEdge

KEY_ALPHABET = string.ascii_letters + string.digits + "-_"
WECHAT_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI "
    "Language/zh_CN"
)
MAIL_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
# Of the people a share reaches, how many get the same broadcast themselves and pass
# their own link on (the next level); the others are friends Siyu never met (anonymous)
# or customers it knows from earlier opens.
FRIEND_RATE = 0.45
KNOWN_RATE = 0.3
MAX_LEVELS = 3
CONVERSION_RATE = 0.2
# Of an email's recipients who click nothing, how many are seen reading it (its pixel).
PIXEL_READ_RATE = 0.3
BATCH = 500


@dataclass(frozen=True)
class LinkOwner:
    """A tracked link of a broadcast and the customer it reached, and when."""

    link_id: int
    customer_id: int
    code: str
    url: str
    reached_at: datetime


@dataclass(frozen=True)
class StaffLink:
    """A staff member's tracked link in their WeCom message: in its text ("wecom") or the
    QR code of its poster ("poster")."""

    link_id: int
    code: str
    url: str
    channel: str


@dataclass(frozen=True)
class StaffMessage:
    """One staff member's WeCom message: its links, and the customers it reached, when."""

    links: list[StaffLink]
    reached: dict[int, datetime]


@dataclass(frozen=True)
class _Open:
    link: LinkOwner
    visitor: LinkVisitor
    at: datetime
    own: bool


class Clicks:
    """Opens, shares and orders of the broadcasts played so far."""

    def __init__(self, session: Session, loaded: Loaded, rng: random.Random, now: datetime):
        self.session = session
        self.loaded = loaded
        self.rng = rng
        self.now = now
        self.visitors: dict[int, LinkVisitor] = {}  # customer id -> their browser
        self.events: list[EventIn] = []
        self.orders: list[OrderIn] = []

    def play(
        self, broadcast: Broadcast, owners: list[LinkOwner], open_rate: float, share_rate: float
    ) -> None:
        agent = WECHAT_AGENT if broadcast.channel.startswith("wecom") else MAIL_AGENT
        opens: list[_Open] = []
        first: dict[int, datetime] = {}
        for owner in owners:
            if self.rng.random() >= open_rate:
                continue
            at = owner.reached_at + timedelta(minutes=self.rng.expovariate(1 / 180))
            if at < self.now:
                opens += self._own_opens(owner, at)
                first[owner.customer_id] = at
        opens += self._shares(owners, first, share_rate)
        self._write(broadcast, opens, agent)
        self._read(broadcast, owners, first)
        self._convert(broadcast, first)

    def _read(
        self, broadcast: Broadcast, owners: list[LinkOwner], first: dict[int, datetime]
    ) -> None:
        """Deliveries opened as the real paths mark them (messaging/opens.py): a click on an
        own link shows the message was read; an email's pixel shows it for clickers (a
        moment before their click) and for some who read without clicking. An email's
        first open is an `email_opened` event on the customer's timeline."""
        email = broadcast.channel == Channel.EMAIL.value
        read: dict[int, datetime] = {}
        for owner in owners:
            clicked = first.get(owner.customer_id)
            if clicked is not None:
                before = timedelta(minutes=self.rng.uniform(0.5, 8)) if email else timedelta()
                read[owner.customer_id] = clicked - before
            elif email and self.rng.random() < PIXEL_READ_RATE:
                at = owner.reached_at + timedelta(minutes=self.rng.expovariate(1 / 240))
                if at < self.now:
                    read[owner.customer_id] = at
        deliveries = self.session.execute(
            select(Delivery.id, Delivery.customer_id).where(
                Delivery.workspace_id == broadcast.workspace_id,
                Delivery.broadcast_id == broadcast.id,
                Delivery.channel == broadcast.channel,
            )
        ).all()
        opened = [(d, c, read[c]) for d, c in deliveries if c in read]
        if not opened:
            return
        self.session.execute(update(Delivery), [{"id": d, "opened_at": at} for d, _, at in opened])
        if not email:
            return
        self._ensure_email_opened_type()
        self.events += [
            EventIn(
                id=f"{messaging_opens.EMAIL_OPENED}:{delivery_id}",
                type=messaging_opens.EMAIL_OPENED,
                occurred_at=at,
                customer=CustomerRefIn(customer_id=customer_id),
                properties={
                    "broadcast_id": broadcast.id,
                    "delivery_id": delivery_id,
                    "via": "pixel",
                },
            )
            for delivery_id, customer_id, at in opened
        ]

    def _ensure_email_opened_type(self) -> None:
        try:
            event_registry.get_type(
                self.session, self.loaded.workspace_id, messaging_opens.EMAIL_OPENED
            )
        except NotFound:
            event_registry.create_type(
                self.session,
                self.loaded.principal,
                EventTypeIn(
                    name=messaging_opens.EMAIL_OPENED,
                    display_name="打开邮件",
                    properties_schema=messaging_opens.EMAIL_OPENED_SCHEMA,
                ),
            )

    def play_staff(
        self,
        broadcast: Broadcast,
        messages: list[StaffMessage],
        open_rate: float,
        share_rate: float,
    ) -> None:
        """Recipients click a link in their staff member's message or scan its poster in
        their own browser; some forward it, and the friends who open a forward click the
        same link: a known customer, or a browser Siyu has never met."""
        clicks: list[tuple[StaffLink, LinkVisitor, datetime]] = []
        first: dict[int, datetime] = {}
        for message in messages:
            for customer_id, reached_at in sorted(message.reached.items()):
                if not message.links or self.rng.random() >= open_rate:
                    continue
                at = reached_at + timedelta(minutes=self.rng.expovariate(1 / 180))
                if at >= self.now:
                    continue
                link = self.rng.choice(message.links)
                clicks.append((link, self._visitor(customer_id, at), at))
                first[customer_id] = at
                if self.rng.random() < share_rate:
                    clicks += [(link, friend, seen) for friend, seen in self._friends(at)]
        self._write_staff(broadcast, clicks)
        self._convert(broadcast, first)

    def _friends(self, at: datetime) -> list[tuple[LinkVisitor, datetime]]:
        """Who opens a forwarded message, and when: a customer known from their own
        links, or a stranger."""
        known = [v for v in self.visitors.values() if v.customer_id is not None]
        found: list[tuple[LinkVisitor, datetime]] = []
        for _ in range(self.rng.randint(1, 3)):
            seen = self._later(at, 240)
            if seen >= self.now:
                continue
            if known and self.rng.random() < KNOWN_RATE:
                found.append((self.rng.choice(known), seen))
            else:
                found.append((self._visitor(None, seen), seen))
        return found

    def _later(self, at: datetime, mean_minutes: float) -> datetime:
        return at + timedelta(minutes=1 + self.rng.expovariate(1 / mean_minutes))

    def _visitor(self, customer_id: int | None, seen_at: datetime) -> LinkVisitor:
        """The customer's browser (made on first use), or a new anonymous one."""
        if customer_id is not None and customer_id in self.visitors:
            return self.visitors[customer_id]
        visitor = LinkVisitor(
            workspace_id=self.loaded.workspace_id,
            visitor_key="".join(self.rng.choice(KEY_ALPHABET) for _ in range(22)),
            first_seen_at=seen_at,
        )
        if customer_id is not None:
            self.visitors[customer_id] = visitor
        return visitor

    def _bind(self, visitor: LinkVisitor, customer_id: int, at: datetime) -> None:
        if visitor.customer_id is None:
            visitor.customer_id, visitor.bound_at = customer_id, at
            self.visitors[customer_id] = visitor

    def _own_opens(self, owner: LinkOwner, at: datetime) -> list[_Open]:
        """The customer opens their link; one in five comes back to it later."""
        visitor = self._visitor(owner.customer_id, at)
        self._bind(visitor, owner.customer_id, at)
        found = [_Open(owner, visitor, at, own=True)]
        again = self._later(at, 24 * 60)
        if self.rng.random() < 0.2 and again < self.now:
            found.append(_Open(owner, visitor, again, own=True))
        return found

    def _shares(
        self, owners: list[LinkOwner], first: dict[int, datetime], share_rate: float
    ) -> list[_Open]:
        """Openers forward their link; friends who got the broadcast too forward theirs."""
        pool = [owner for owner in owners if owner.customer_id not in first]
        self.rng.shuffle(pool)
        recipients = {o.customer_id for o in owners}
        known = [
            c for c, v in self.visitors.items() if v.customer_id is not None and c not in recipients
        ]
        sharers = [o for o in owners if o.customer_id in first and self.rng.random() < share_rate]
        found: list[_Open] = []
        for level in range(MAX_LEVELS):
            next_level: list[LinkOwner] = []
            for sharer in sharers:
                reached: set[int] = set()
                for _ in range(self.rng.randint(1, 3)):
                    at = self._later(first[sharer.customer_id], 240)
                    if at >= self.now:
                        continue
                    roll = self.rng.random()
                    if level < MAX_LEVELS - 1 and pool and roll < FRIEND_RATE:
                        friend = pool.pop()
                        visitor = self._visitor(friend.customer_id, at)
                        found.append(_Open(sharer, visitor, at, own=False))
                        own_at = self._later(at, 30)
                        if own_at < self.now:
                            found += self._own_opens(friend, own_at)
                            first[friend.customer_id] = own_at
                            next_level.append(friend)
                        continue
                    if known and roll < FRIEND_RATE + KNOWN_RATE:
                        visitor = self.visitors[self.rng.choice(known)]
                    else:
                        visitor = self._visitor(None, at)
                    if id(visitor) not in reached:
                        reached.add(id(visitor))
                        found.append(_Open(sharer, visitor, at, own=False))
            sharers = next_level
        return found

    def _write(self, broadcast: Broadcast, opens: list[_Open], agent: str) -> None:
        """Visitors, visits and share edges, then the timeline events of known openers."""
        self.session.add_all({id(o.visitor): o.visitor for o in opens}.values())
        self.session.flush()
        edges: dict[tuple[int, int], ShareEdge] = {}
        visits: list[tuple[LinkVisit, _Open]] = []
        for found in sorted(opens, key=lambda o: o.at):
            visitor = found.visitor
            bound = visitor.bound_at is not None and visitor.bound_at <= found.at
            known = visitor.customer_id if bound else None
            visit = LinkVisit(
                workspace_id=broadcast.workspace_id,
                link_id=found.link.link_id,
                visitor_id=visitor.id,
                customer_id=known,
                kind="own" if found.own else "shared",
                visited_at=found.at,
                user_agent=agent,
            )
            visits.append((visit, found))
            if found.own:
                continue
            key = (found.link.link_id, visitor.id)
            if key in edges:
                edges[key].opens += 1
                edges[key].last_at = found.at
                continue
            edges[key] = ShareEdge(
                workspace_id=broadcast.workspace_id,
                link_id=found.link.link_id,
                broadcast_id=broadcast.id,
                sharer_customer_id=found.link.customer_id,
                visitor_id=visitor.id,
                first_at=found.at,
                last_at=found.at,
                opens=1,
            )
        self.session.add_all([visit for visit, _ in visits])
        self.session.add_all(edges.values())
        self.session.flush()
        for visit, found in visits:
            shared_by = None if found.own else found.link.customer_id
            self._opened(broadcast, visit, found.link.url, found.link.code, shared_by=shared_by)

    def _write_staff(
        self, broadcast: Broadcast, clicks: list[tuple[StaffLink, LinkVisitor, datetime]]
    ) -> None:
        """Visits of staff members' links (no share edges), then the timeline events of
        openers known at the time."""
        self.session.add_all({id(visitor): visitor for _, visitor, _ in clicks}.values())
        self.session.flush()
        visits: list[tuple[LinkVisit, StaffLink]] = []
        for link, visitor, at in sorted(clicks, key=lambda click: click[2]):
            bound = visitor.bound_at is not None and visitor.bound_at <= at
            visit = LinkVisit(
                workspace_id=broadcast.workspace_id,
                link_id=link.link_id,
                visitor_id=visitor.id,
                customer_id=visitor.customer_id if bound else None,
                kind="staff",
                visited_at=at,
                user_agent=WECHAT_AGENT,
            )
            visits.append((visit, link))
        self.session.add_all([visit for visit, _ in visits])
        self.session.flush()
        for visit, link in visits:
            self._opened(broadcast, visit, link.url, link.code, channel=link.channel)

    def _opened(
        self,
        broadcast: Broadcast,
        visit: LinkVisit,
        url: str,
        code: str,
        *,
        shared_by: int | None = None,
        channel: str | None = None,
    ) -> None:
        """The `link_opened` event of a visit by a customer known at the time."""
        if visit.customer_id is None:
            return
        self.events.append(
            EventIn(
                id=f"{LINK_OPENED}:{visit.id}",
                type=LINK_OPENED,
                occurred_at=visit.visited_at,
                customer=CustomerRefIn(customer_id=visit.customer_id),
                properties={
                    "url": url,
                    "link_code": code,
                    "broadcast_id": broadcast.id,
                    "channel": channel or broadcast.channel,
                    "shared_by": shared_by,
                },
            )
        )

    def _convert(self, broadcast: Broadcast, first: dict[int, datetime]) -> None:
        """Some who clicked buy on the mini-program within a few days."""
        buyers = [c for c in sorted(first) if self.rng.random() < CONVERSION_RATE]
        if not buyers:
            return
        mobiles = dict(
            self.session.execute(
                select(Customer.id, Customer.mobile).where(
                    Customer.workspace_id == self.loaded.workspace_id, Customer.id.in_(buyers)
                )
            ).all()
        )
        for customer_id in buyers:
            paid = first[customer_id] + timedelta(hours=self.rng.uniform(0.3, 96))
            mobile = mobiles.get(customer_id)
            if mobile is None or paid >= self.now - timedelta(hours=1):
                continue
            product = self.rng.choice(data.PRODUCTS)
            self.orders.append(
                OrderIn(
                    platform=Platform.YOUZAN,
                    platform_order_id=f"YZB{broadcast.id:03d}{customer_id:06d}",
                    status=OrderStatus.COMPLETED,
                    ordered_at=paid - timedelta(minutes=2),
                    paid_at=paid,
                    total_fen=product.price_fen,
                    paid_fen=product.price_fen,
                    buyer_id=f"youzan-demo-{customer_id}",
                    receiver_mobile=mobile,
                    items=[
                        OrderItemIn(
                            name=product.name,
                            sku=product.sku,
                            product_external_id=product.sku,
                            quantity=1,
                            unit_price_fen=product.price_fen,
                            amount_fen=product.price_fen,
                        )
                    ],
                )
            )

    def record(self) -> None:
        """The orders through the commerce service, the opens through the events service."""
        for start in range(0, len(self.orders), BATCH):
            commerce_service.upsert_orders(
                self.session,
                self.loaded.workspace_id,
                self.orders[start : start + BATCH],
                source=ACTOR,
                actor=ACTOR,
            )
        events = sorted(self.events, key=lambda e: e.occurred_at)
        for start in range(0, len(events), BATCH):
            result = events_service.ingest(
                self.session,
                self.loaded.workspace_id,
                events[start : start + BATCH],
                unknown_customers="reject",
                actor=ACTOR,
            )
            if result.rejected:
                first = next(r for r in result.results if r.status == "rejected")
                raise SiyuError(f"demo event {first.id} was rejected: {first.errors}")
