"""The demo's activity: a year of orders and 90 days of events, through their services."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.commerce import service as commerce_service
from siyu.commerce.schemas import OrderIn, OrderItemIn
from siyu.connectors.commerce import OrderStatus, Platform
from siyu.customers.identities import IdentityKind
from siyu.demo import data
from siyu.demo.people import ACTOR, Loaded, PersonSpec, Progress
from siyu.events import registry as event_registry
from siyu.events import service as events_service
from siyu.events.schemas import CustomerRefIn, EventIn, EventTypeIn
from siyu.exceptions import SiyuError
from siyu.kit.time import SHANGHAI, utcnow

EVENT_DAYS = 90
EVENT_BATCH = 1000


# --- orders ----------------------------------------------------------------------------

ORDERS_BY_STAGE = {"new": 0.8, "active": 3.0, "loyal": 7.0, "dormant": 1.5, "churned": 1.0}
ORDER_BATCH = 500
STORE_NAMES = tuple(d.name for d in data.DEPARTMENTS if d.key in data.STORE_KEYS)


def buyer_of(person: PersonSpec, platform: str, customer_id: int) -> str | None:
    """The buyer id this person has on `platform`; a new one when the channel is new to them."""
    kinds = {
        "tmall": IdentityKind.TAOBAO_BUYER_ID,
        "jd": IdentityKind.JD_BUYER_ID,
        "pdd": IdentityKind.PDD_BUYER_ID,
        "youzan": IdentityKind.YOUZAN_BUYER_ID,
    }
    kind = kinds.get(platform)
    if kind is None:
        return None
    known = [value for k, value in person.identities if k == kind]
    # Without a mobile on the order, only a known buyer id can name the person.
    if known or person.mobile:
        return known[0] if known else f"{platform}-demo-{customer_id}"
    return None


def demo_orders(loaded: Loaded, rng: random.Random) -> Iterator[OrderIn]:
    now = utcnow()
    for customer_id, person in loaded.customers:
        platform = data.SOURCE_PLATFORM[person.source]
        buyer_id = buyer_of(person, platform, customer_id)
        if buyer_id is None and person.mobile is None:
            continue
        count = int(rng.expovariate(1 / ORDERS_BY_STAGE[person.stage]))
        for n in range(count):
            # Between joining and an hour ago, so that payment is in the past too.
            window = int((now - timedelta(hours=1) - person.joined_at).total_seconds())
            ordered = person.joined_at + timedelta(seconds=rng.randrange(max(1, window)))
            items = [
                OrderItemIn(
                    name=product.name,
                    sku=product.sku,
                    product_external_id=product.sku,
                    quantity=quantity,
                    unit_price_fen=product.price_fen,
                    amount_fen=product.price_fen * quantity,
                )
                for product in rng.sample(data.PRODUCTS, 1 if rng.random() < 0.7 else 2)
                for quantity in [1 if rng.random() < 0.85 else 2]
            ]
            total = sum(item.amount_fen for item in items)
            discount = total // 10 if rng.random() < 0.35 else 0
            shipping = 0 if platform == "generic" or total >= 9900 else 800
            paid = total - discount + shipping
            refunded = rng.random() < 0.05
            yield OrderIn(
                platform=Platform(platform),
                platform_order_id=f"{platform.upper()}{customer_id:05d}{n:03d}",
                status=OrderStatus.REFUNDED if refunded else OrderStatus.COMPLETED,
                ordered_at=ordered,
                paid_at=ordered + timedelta(minutes=rng.randint(1, 30)),
                total_fen=total,
                paid_fen=paid,
                discount_fen=discount,
                shipping_fen=shipping,
                refunded_fen=paid if refunded else 0,
                store=rng.choice(STORE_NAMES) if platform == "generic" else None,
                buyer_id=buyer_id,
                receiver_name=person.name,
                receiver_mobile=person.mobile,
                receiver_province=person.province,
                receiver_city=person.city,
                items=items,
            )


def load_orders(session: Session, loaded: Loaded, rng: random.Random, report: Progress) -> None:
    """A year of orders from Tmall, JD, Pinduoduo, the Youzan mini-program and the stores."""
    orders = list(demo_orders(loaded, rng))
    for start in range(0, len(orders), ORDER_BATCH):
        commerce_service.upsert_orders(
            session,
            loaded.workspace_id,
            orders[start : start + ORDER_BATCH],
            source=ACTOR,
            actor=ACTOR,
        )
        report("orders", min(start + ORDER_BATCH, len(orders)), len(orders))


# --- events ----------------------------------------------------------------------------

EVENTS_BY_STAGE = {"new": 6, "active": 22, "loyal": 30, "dormant": 3, "churned": 1}


def register_event_types(session: Session, loaded: Loaded) -> None:
    for spec in data.EVENT_TYPES:
        event_registry.create_type(
            session,
            loaded.principal,
            EventTypeIn(
                name=spec.name,
                display_name=spec.display_name,
                properties_schema={
                    "type": "object",
                    "properties": {k: {"type": t} for k, t in spec.properties.items()},
                    "required": sorted(spec.properties),
                },
                counted_properties=list(spec.counted),
            ),
        )


def event_properties(rng: random.Random, name: str) -> dict[str, Any]:
    product = rng.choice(data.PRODUCTS)
    stores = [d.name for d in data.DEPARTMENTS if d.key in data.STORE_KEYS]
    coupon, value = rng.choice(data.COUPONS)
    by_name: dict[str, dict[str, Any]] = {
        "page_view": {"page": rng.choice(data.PAGES), "referrer": rng.choice(data.REFERRERS)},
        "product_view": {
            "sku": product.sku,
            "product_name": product.name,
            "category": product.category,
        },
        "add_to_cart": {"sku": product.sku, "quantity": rng.randint(1, 3)},
        "coupon_received": {"coupon": coupon, "value_fen": value},
        "article_read": {"title": rng.choice(data.ARTICLES)},
        "live_stream_watch": {
            "room": rng.choice(data.LIVE_ROOMS),
            "duration_seconds": rng.randint(30, 3600),
        },
        "mini_program_open": {"scene": rng.choice(data.MINI_PROGRAM_SCENES)},
        "store_visit": {"store": rng.choice(stores)},
    }
    return by_name[name]


def demo_events(loaded: Loaded, rng: random.Random) -> Iterator[EventIn]:
    now = utcnow()
    names = [e.name for e in data.EVENT_TYPES]
    weights = [e.weight for e in data.EVENT_TYPES]
    for customer_id, person in loaded.customers:
        start = max(person.joined_at, now - timedelta(days=EVENT_DAYS))
        span = int((now - start).total_seconds())
        count = int(rng.expovariate(1 / EVENTS_BY_STAGE[person.stage]))
        for n in range(count if span > 0 else 0):
            # Daytime in Shanghai: people browse between 8:00 and 23:00.
            day = (start + timedelta(seconds=rng.randrange(span))).astimezone(SHANGHAI).date()
            local = datetime.combine(day, time(rng.randint(8, 22), rng.randrange(60)), SHANGHAI)
            occurred = local.astimezone(UTC)
            if occurred > now:  # later today: it happened yesterday at that time instead
                occurred -= timedelta(days=1)
            name = rng.choices(names, weights)[0]
            yield EventIn(
                id=f"demo-{customer_id}-{n}",
                type=name,
                occurred_at=occurred,
                customer=CustomerRefIn(customer_id=customer_id),
                properties=event_properties(rng, name),
            )


def load_events(session: Session, loaded: Loaded, rng: random.Random, report: Progress) -> None:
    """90 days of behaviour through the events service, in API-sized batches."""
    register_event_types(session, loaded)
    events = sorted(demo_events(loaded, rng), key=lambda e: e.occurred_at)
    for start in range(0, len(events), EVENT_BATCH):
        batch = events[start : start + EVENT_BATCH]
        result = events_service.ingest(
            session, loaded.workspace_id, batch, unknown_customers="reject", actor=ACTOR
        )
        if result.rejected:
            first = next(r for r in result.results if r.status == "rejected")
            raise SiyuError(f"demo event {first.id} was rejected: {first.errors}")
        report("events", min(start + EVENT_BATCH, len(events)), len(events))
