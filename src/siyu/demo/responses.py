"""Demo mode only: customers respond to a broadcast the demo just sent.

Nobody reads a demo's messages, so its results would stay at zero opens. The results page
offers "模拟客户响应": some recipients open the email (its pixel), some of those click
their tracked link, some forward it to friends who open it too (share edges), and some
buy within minutes. Everything goes through the same services a real open, click or
order goes through — the pixel's `mark_opened`, `links.open_link` with a browser cookie,
the commerce service — so results, timelines, the share chain and attribution show what
they would show for real customers. Outside demo mode the endpoint answers 404.

WeCom messages carry one link per staff member (content/staff_links.py): a click is a
customer's only when their browser is already known from an earlier own-link open; the
others count as anonymous visitors of that staff member's link.
"""

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce import service as commerce_service
from siyu.commerce.schemas import OrderIn, OrderItemIn
from siyu.config import Mode
from siyu.connectors.commerce import OrderStatus, Platform
from siyu.content import links
from siyu.db.dependencies import DbSession
from siyu.demo import data
from siyu.demo.clicks import MAIL_AGENT, WECHAT_AGENT
from siyu.exceptions import Conflict, NotFound
from siyu.kit.time import utcnow
from siyu.messaging import opens
from siyu.messaging import service as messaging_service
from siyu.messaging.schemas import Channel, DeliveryStatus
from siyu.models import Customer, Delivery, LinkVisitor, TrackedLink
from siyu.workspace.dependencies import Operator
from siyu.workspace.principal import Principal

router = APIRouter(prefix="/demo", tags=["demo"])

ACTOR = "demo-responses"
MAX_FRIENDS = 3
# of the friends a forward reaches, how many Siyu already knows from their own links
KNOWN_FRIEND_RATE = 0.3
REACHED = (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value)


class ResponsesIn(BaseModel):
    open_rate: float = Field(0.45, ge=0, le=1, description="recipients who open the message")
    click_rate: float = Field(0.4, ge=0, le=1, description="openers who click a link")
    share_rate: float = Field(0.3, ge=0, le=1, description="clickers who forward it")
    buy_rate: float = Field(0.15, ge=0, le=1, description="clickers who buy")
    seed: int | None = Field(
        None, description="the same seed plays the same responses (default: the broadcast's id)"
    )


class SimulatedResponses(BaseModel):
    broadcast_id: int
    opened: int
    clicked: int
    forwarded_opens: int
    orders: int


@dataclass(frozen=True)
class _Reached:
    delivery_id: int
    customer_id: int
    staff_id: int | None


@dataclass(frozen=True)
class _Link:
    code: str
    customer_id: int | None
    staff_id: int | None


class _Play:
    def __init__(self, session: Session, workspace_id: int, channel: str, rng: random.Random):
        self.session = session
        self.workspace_id = workspace_id
        self.channel = channel
        self.rng = rng
        self.agent = MAIL_AGENT if channel == Channel.EMAIL.value else WECHAT_AGENT
        self.result = SimulatedResponses(
            broadcast_id=0, opened=0, clicked=0, forwarded_opens=0, orders=0
        )

    def browsers(self, customer_ids: Sequence[int]) -> dict[int, str]:
        """customer id -> the cookie of a browser already known as that customer."""
        rows = self.session.execute(
            select(LinkVisitor.customer_id, LinkVisitor.visitor_key).where(
                LinkVisitor.workspace_id == self.workspace_id,
                LinkVisitor.customer_id.in_(customer_ids),
            )
        )
        return {customer_id: key for customer_id, key in rows if customer_id is not None}

    def open(self, code: str, visitor_key: str | None) -> str | None:
        opened = links.open_link(self.session, code, visitor_key=visitor_key, user_agent=self.agent)
        return None if opened is None else opened.visitor_key

    def forward(self, code: str, known: dict[int, str], strangers: list[int]) -> None:
        for _ in range(self.rng.randint(1, MAX_FRIENDS)):
            friend = None
            if strangers and self.rng.random() < KNOWN_FRIEND_RATE:
                friend = known.get(strangers.pop(self.rng.randrange(len(strangers))))
            self.open(code, friend or secrets.token_urlsafe(16))
            self.result.forwarded_opens += 1


def _reached(session: Session, workspace_id: int, broadcast_id: int) -> list[_Reached]:
    rows = session.execute(
        select(Delivery.id, Delivery.customer_id, Delivery.staff_id)
        .where(
            Delivery.workspace_id == workspace_id,
            Delivery.broadcast_id == broadcast_id,
            Delivery.status.in_(REACHED),
        )
        .order_by(Delivery.id)
    )
    return [_Reached(*row) for row in rows]


def _links(session: Session, workspace_id: int, broadcast_id: int) -> list[_Link]:
    rows = session.execute(
        select(TrackedLink.code, TrackedLink.customer_id, TrackedLink.staff_id)
        .where(TrackedLink.workspace_id == workspace_id, TrackedLink.broadcast_id == broadcast_id)
        .order_by(TrackedLink.id)
    )
    return [_Link(*row) for row in rows]


def _orders(session: Session, workspace_id: int, broadcast_id: int, buyers: list[int]) -> int:
    """Mini-program orders of the buyers, paid now, matched to them by mobile."""
    mobiles = dict(
        session.execute(
            select(Customer.id, Customer.mobile).where(
                Customer.workspace_id == workspace_id, Customer.id.in_(buyers)
            )
        ).all()
    )
    now = utcnow()
    rng = random.Random(broadcast_id)  # noqa: S311 - demo data, not secrets
    orders: list[OrderIn] = []
    for customer_id in buyers:
        mobile = mobiles.get(customer_id)
        if mobile is None:
            continue
        product = rng.choice(data.PRODUCTS)
        orders.append(
            OrderIn(
                platform=Platform.YOUZAN,
                platform_order_id=f"YZR{broadcast_id:04d}{customer_id:07d}{secrets.token_hex(2)}",
                status=OrderStatus.PAID,
                ordered_at=now - timedelta(seconds=30),
                paid_at=now,
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
    if orders:
        commerce_service.upsert_orders(session, workspace_id, orders, source=ACTOR, actor=ACTOR)
    return len(orders)


def simulate_responses(
    session: Session, principal: Principal, broadcast_id: int, body: ResponsesIn, *, demo: bool
) -> SimulatedResponses:
    if not demo:
        raise NotFound("simulated responses exist only in demo mode")
    workspace_id = principal.workspace_id
    broadcast = messaging_service.get(session, principal, broadcast_id)
    reached = _reached(session, workspace_id, broadcast_id)
    if not reached:
        raise Conflict("nobody has received this broadcast yet", {"field": "broadcast_id"})
    rng = random.Random(broadcast_id if body.seed is None else body.seed)  # noqa: S311 - demo data
    play = _Play(session, workspace_id, broadcast.channel, rng)
    play.result.broadcast_id = broadcast_id
    customers = [r.customer_id for r in reached]
    known = play.browsers(customers)
    own_link: dict[int, str] = {}
    staff_link: dict[int | None, str] = {}
    for link in _links(session, workspace_id, broadcast_id):
        if link.customer_id is not None:
            own_link.setdefault(link.customer_id, link.code)
        else:
            staff_link.setdefault(link.staff_id, link.code)
    email = broadcast.channel == Channel.EMAIL.value
    now = utcnow()
    clickers: list[int] = []
    for person in reached:
        # the first recipient always responds (when the rates allow), so a demo shows some
        first = person is reached[0]
        if rng.random() >= body.open_rate and not (first and body.open_rate):
            continue
        # an email's pixel counts the open; other channels show no sign of a read
        if email and opens.mark_opened(
            session, workspace_id, now, via="pixel", delivery_id=person.delivery_id
        ):
            play.result.opened += 1
        code = own_link.get(person.customer_id) or staff_link.get(person.staff_id)
        if code is None or (rng.random() >= body.click_rate and not (first and body.click_rate)):
            continue
        key = play.open(code, known.get(person.customer_id))
        if key is not None and person.customer_id in own_link:
            known[person.customer_id] = key  # an own link binds the browser to its customer
        play.result.clicked += 1
        clickers.append(person.customer_id)
        if person.customer_id in own_link and rng.random() < body.share_rate:
            strangers = [c for c in known if c != person.customer_id]
            play.forward(code, known, strangers)
    buyers = [c for c in clickers if rng.random() < body.buy_rate]
    play.result.orders = _orders(session, workspace_id, broadcast_id, buyers)
    return play.result


@router.post("/broadcasts/{broadcast_id}/responses", response_model=SimulatedResponses)
def simulate_customer_responses(
    broadcast_id: int,
    request: Request,
    session: DbSession,
    principal: Operator,
    body: ResponsesIn | None = None,
) -> SimulatedResponses:
    """Demo mode only: recipients open, click, forward and buy (see the module)."""
    demo = request.app.state.settings.mode is Mode.DEMO
    return simulate_responses(session, principal, broadcast_id, body or ResponsesIn(), demo=demo)
