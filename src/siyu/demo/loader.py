"""Load the demo workspace 山茶集 through the same services the API and importers use.

Everything is written in one unit of work, so a load either completes or leaves nothing
behind; the workspace's `settings["demo"]` marker says it is complete, and a second load
finds it and adds nothing. The random generator is seeded: every load of the same
version produces the same brand.
"""

import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.commerce import service as commerce_service
from siyu.commerce.schemas import OrderIn, OrderItemIn
from siyu.connectors.commerce import OrderStatus, Platform
from siyu.customers import service as customers_service
from siyu.customers.identities import IdentityKind, normalize
from siyu.customers.schemas import CustomerCreate, IdentityIn
from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.events import registry as event_registry
from siyu.events import service as events_service
from siyu.events.schemas import CustomerRefIn, EventIn, EventTypeIn
from siyu.exceptions import Conflict, SiyuError, ValidationFailed
from siyu.kit.time import SHANGHAI, utcnow
from siyu.models import Workspace
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.repository import WorkspaceRepository
from siyu.workspace.roles import Role

DEMO_VERSION = 1
DEFAULT_SEED = 20240601
ACTOR = "demo"
EVENT_DAYS = 90
ORDER_DAYS = 365
EVENT_BATCH = 1000
# A share of records arrive a second time from another channel with the same mobile:
# OneID joins them to the customer that already exists, as it would in production.
RETURNING_SHARE = 0.04

Progress = Callable[[str, int, int], None]
"""Called as progress(step, done, total) while a load runs."""


@dataclass(frozen=True)
class DemoLoad:
    workspace_id: int
    created: bool
    api_key: str | None  # the plaintext key, only when this call created the workspace
    email: str = data.LOGIN_EMAIL
    password: str = data.LOGIN_PASSWORD


@dataclass
class PersonSpec:
    name: str
    gender: str
    birthday: date
    mobile: str | None
    province: str
    city: str
    source: str
    stage: str
    joined_at: datetime
    identities: list[tuple[str, str]]


@dataclass
class Loaded:
    """What the load made, by the keys later steps need."""

    workspace_id: int
    principal: Principal
    staff_ids: dict[str, int] = field(default_factory=dict)
    customers: list[tuple[int, PersonSpec]] = field(default_factory=list)


def demo_workspace(session: Session) -> Workspace | None:
    return WorkspaceRepository(session).workspace_by_slug(data.WORKSPACE_SLUG)


def is_loaded(workspace: Workspace) -> bool:
    return bool((workspace.settings or {}).get("demo"))


def load_demo(
    engine: Engine,
    *,
    customers: int = data.DEMO_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> DemoLoad:
    """Create the demo workspace with its data, or find the one an earlier load made."""
    report = progress or (lambda _step, _done, _total: None)
    with unit_of_work(engine) as session:
        existing = demo_workspace(session)
        if existing is not None:
            if not is_loaded(existing):
                raise Conflict(
                    f"workspace {data.WORKSPACE_SLUG!r} exists but was not made by `siyu demo`",
                    {"field": "slug"},
                )
            return DemoLoad(existing.id, created=False, api_key=None)
        rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        workspace = workspace_service.create_workspace(
            session, slug=data.WORKSPACE_SLUG, name=data.BRAND_NAME
        )
        workspace_service.create_user(
            session,
            workspace_id=workspace.id,
            email=data.LOGIN_EMAIL,
            name="演示管理员",
            password=data.LOGIN_PASSWORD,
            role=Role.ADMIN,
        )
        api_key = workspace_service.create_api_key(
            session, workspace_id=workspace.id, name="demo", role=Role.ADMIN
        )
        loaded = Loaded(workspace.id, Principal.system(workspace.id))
        people = [person_spec(rng, n) for n in range(customers)]
        load_customers(session, loaded, people, rng, report)
        load_tags(session, loaded, rng, report)
        load_orders(session, loaded, rng, report)
        load_events(session, loaded, rng, report)
        workspace.settings = {
            **(workspace.settings or {}),
            "demo": {"version": DEMO_VERSION, "seed": seed, "customers": customers},
        }
        return DemoLoad(workspace.id, created=True, api_key=api_key.plaintext)


# --- people ----------------------------------------------------------------------------


def weighted_choice(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o[0] for o in options], [o[1] for o in options])[0]


def chinese_name(rng: random.Random, gender: str) -> str:
    surname = data.SURNAMES[min(int(rng.expovariate(1 / 18)), len(data.SURNAMES) - 1)]
    pool = data.GIVEN_FEMALE if gender == "female" else data.GIVEN_MALE
    given = rng.choice(pool)
    if rng.random() < 0.75:
        given = rng.choice(data.GIVEN_NEUTRAL + pool) + given
    return surname + given


def mobile_number(rng: random.Random) -> str:
    while True:
        candidate = rng.choice(data.MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
        try:
            return normalize(IdentityKind.MOBILE, candidate).value
        except ValidationFailed:
            continue


def person_spec(rng: random.Random, n: int) -> PersonSpec:
    gender = "female" if rng.random() < 0.64 else "male"
    region = weighted_choice(rng, [(f"{p}|{c}", w) for p, c, w in data.REGIONS])
    province, city = region.split("|")
    source = weighted_choice(rng, data.SOURCES)
    mobile = mobile_number(rng) if source in {"渠道活码", "门店"} or rng.random() < 0.6 else None
    channel_identity = {
        "渠道活码": (IdentityKind.WECOM_EXTERNAL_USERID, f"wmDemo{n:06d}Shancha"),
        "天猫": (IdentityKind.TAOBAO_BUYER_ID, f"tb{2_200_000_000 + n * 7919}"),
        "京东": (IdentityKind.JD_BUYER_ID, f"jd_{n:06d}shanchaji"),
        "拼多多": (IdentityKind.PDD_BUYER_ID, f"pdd{8_100_000 + n * 31}"),
        "门店": (IdentityKind.STORE_MEMBER_NO, f"SCJ{n + 100_001:08d}"),
        "小程序": (IdentityKind.WECHAT_UNIONID, f"oDemo_{n:06d}_shanchaji"),
    }[source]
    identities = [(channel_identity[0].value, channel_identity[1])]
    if mobile:
        identities.append((IdentityKind.MOBILE.value, mobile))
    joined = utcnow() - timedelta(days=rng.randrange(ORDER_DAYS), seconds=rng.randrange(86400))
    return PersonSpec(
        name=chinese_name(rng, gender),
        gender=gender,
        birthday=date(rng.randint(1968, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        mobile=mobile,
        province=province,
        city=city,
        source=source,
        stage=weighted_choice(rng, data.LIFECYCLE_STAGES),
        joined_at=joined,
        identities=identities,
    )


def load_customers(
    session: Session,
    loaded: Loaded,
    people: Sequence[PersonSpec],
    rng: random.Random,
    report: Progress,
) -> None:
    """Create each person through the customers service (OneID resolves their identities)."""
    total = len(people)
    for done, person in enumerate(people, start=1):
        customer, _ = customers_service.create_customer(
            session,
            loaded.workspace_id,
            CustomerCreate(
                name=person.name,
                gender=person.gender,
                birthday=person.birthday,
                mobile=person.mobile,
                province=person.province,
                city=person.city,
                lifecycle_stage=person.stage,
                source=person.source,
                identities=[IdentityIn(kind=k, value=v) for k, v in person.identities],
            ),
            source=ACTOR,
            actor=ACTOR,
        )
        # The demo backdates when each person became a customer over the past year.
        customer.created_at = person.joined_at
        loaded.customers.append((customer.id, person))
        if person.mobile and rng.random() < RETURNING_SHARE:
            returning_record(session, loaded, person, done)
        if done % 100 == 0 or done == total:
            report("customers", done, total)
    session.flush()


def returning_record(session: Session, loaded: Loaded, person: PersonSpec, n: int) -> None:
    """The same person seen again on the mini-program: OneID joins it by mobile."""
    assert person.mobile is not None
    _, created = customers_service.create_customer(
        session,
        loaded.workspace_id,
        CustomerCreate(
            mobile=person.mobile,
            identities=[IdentityIn(kind="wechat_unionid", value=f"oDemoReturning_{n:06d}")],
        ),
        source=ACTOR,
        actor=ACTOR,
    )
    assert not created.created, "a known mobile resolves to its customer"


# --- tags ------------------------------------------------------------------------------

CHANNEL_TAG = {
    "天猫": "天猫",
    "京东": "京东",
    "拼多多": "拼多多",
    "门店": "门店",
    "小程序": "小程序",
    "渠道活码": "门店",
}
TIER_BY_STAGE = {
    "new": ("普通会员", 90),
    "active": ("银卡会员", 60),
    "loyal": ("金卡会员", 70),
    "dormant": ("普通会员", 70),
    "churned": ("普通会员", 95),
}


def load_tags(session: Session, loaded: Loaded, rng: random.Random, report: Progress) -> None:
    """The five tag groups, and tags on customers that fit their stage and channel."""
    names = [(group, tag) for group, tags in data.TAG_GROUPS for tag in tags]
    tag_ids = tags_service.ensure_tags(session, loaded.workspace_id, names)
    interests = dict(data.TAG_GROUPS)["兴趣偏好"]
    campaigns = dict(data.TAG_GROUPS)["活动参与"]
    wanted: dict[int, list[int]] = defaultdict(list)
    for customer_id, person in loaded.customers:
        tier, common = TIER_BY_STAGE[person.stage]
        if rng.randrange(100) >= common:
            tier = rng.choice(("银卡会员", "金卡会员", "黑金会员"))
        chosen = [
            ("客户等级", tier),
            ("购买渠道", CHANNEL_TAG[person.source]),
            ("生命周期", data.LIFECYCLE_LABELS[person.stage]),
        ]
        chosen += [("兴趣偏好", t) for t in rng.sample(interests, rng.randint(0, 3))]
        if person.stage in {"active", "loyal"}:
            chosen += [("活动参与", t) for t in rng.sample(campaigns, rng.randint(0, 3))]
        for key in chosen:
            wanted[tag_ids[key]].append(customer_id)
    for done, (tag_id, customer_ids) in enumerate(sorted(wanted.items()), start=1):
        tags_service.add_tags(
            session, loaded.workspace_id, customer_ids, [tag_id], source="import", actor=ACTOR
        )
        report("tags", done, len(wanted))


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
            # Most orders come after the person joined; a few were the reason they joined.
            ordered = person.joined_at + timedelta(
                seconds=rng.randrange(max(1, int((now - person.joined_at).total_seconds())))
            )
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
            ),
        )


def event_properties(rng: random.Random, name: str) -> dict[str, Any]:
    product = rng.choice(data.PRODUCTS)
    stores = [d.name for d in data.DEPARTMENTS if d.key in data.STORE_KEYS]
    coupon, value = rng.choice(data.COUPONS)
    by_name: dict[str, dict[str, Any]] = {
        "page_view": {"page": rng.choice(data.PAGES), "referrer": rng.choice(data.REFERRERS)},
        "product_view": {"sku": product.sku, "product_name": product.name},
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
            occurred = min(local.astimezone(UTC), now)
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
