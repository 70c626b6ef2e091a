"""Deterministic benchmark data for a brand like 山茶集, at size XS, S or M.

    .venv/bin/python -m bench.generate --size S [--database-url URL] [--fresh] [--seed 7]

| size | customers | identities | tags | tag assignments | orders | events (180 days) |
|------|-----------|------------|------|-----------------|--------|-------------------|
| XS   | 10k       | ~13k       | 100  | 80k             | 50k    | 500k              |
| S    | 100k      | ~130k      | 500  | 800k            | 500k   | 5M                |
| M    | 1M        | ~1.3M      | 500  | 8M              | 5M     | 50M               |

Rows are written straight into the tables — COPY on PostgreSQL, batched executemany on
SQLite — and bypass the services ON PURPOSE: the services are what the benchmarks
measure, and loading 50M events through them would take hours. Only the workspace, its
admin user and its API key are created through `siyu.workspace.service`.

Planted duplicates (ground truth for bench/oneid.py): 5% of persons have two customer
records from different channels. The first record carries a Taobao buyer id and the
person's mobile identity; the second a WeCom external user id and the same mobile on the
customer row (the identity table holds each (kind, value) once, so the split records
cannot both own it). Every record of a duplicate person, plus an equal number of
single-record persons (many sharing a name and city with a duplicate: hard negatives),
is written with its full identity set to bench/data/truth-<size>-<db>.jsonl.

Generation streams in chunks of customers, so memory stays bounded at any size.
"""

import argparse
import functools
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, text

from bench.common import (
    DATA_DIR,
    DEFAULT_DATABASE_URL,
    Dataset,
    database_label,
    ensure_database,
    recreate_database,
    url_tag,
)
from bench.writers import Writer, writer_for
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role

console = Console()

# Identity kinds as `siyu.customers.identities.IdentityKind` spells them.
MOBILE = "mobile"
WECOM = "wecom_external_userid"
UNIONID = "wechat_unionid"
TAOBAO = "taobao_buyer_id"
JD = "jd_buyer_id"
PDD = "pdd_buyer_id"
STORE_MEMBER = "store_member_no"


def cols(names: str) -> list[str]:
    return names.split()


@dataclass(frozen=True)
class Size:
    customers: int
    tags: int
    tag_assignments: int
    orders: int
    events: int
    staff: int


SIZES = {
    "XS": Size(10_000, 100, 80_000, 50_000, 500_000, 40),
    "S": Size(100_000, 500, 800_000, 500_000, 5_000_000, 200),
    "M": Size(1_000_000, 500, 8_000_000, 5_000_000, 50_000_000, 1_000),
}
DUPLICATE_SHARE = 0.05
CHUNK = 5_000
EVENT_DAYS = 180
ORDER_DAYS = 3 * 365
NOW = datetime(2026, 11, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW_S = int((NOW - EPOCH).total_seconds())

# Source channel -> the identity kind a record from it carries.
CHANNEL_KIND = {
    "渠道活码": WECOM,
    "天猫": TAOBAO,
    "京东": JD,
    "拼多多": PDD,
    "门店": STORE_MEMBER,
    "小程序": UNIONID,
}
STORE_NAMES = tuple(d.name for d in data.DEPARTMENTS if d.key in data.STORE_KEYS)


# --- generation ----------------------------------------------------------------------


def weighted(options: Sequence[tuple[str, int]]) -> Callable[[random.Random], str]:
    names = [o[0] for o in options]
    weights = [o[1] for o in options]

    def pick(rng: random.Random) -> str:
        return rng.choices(names, weights)[0]

    return pick


pick_source = weighted(data.SOURCES)
pick_stage = weighted(data.LIFECYCLE_STAGES)
pick_region = weighted([(f"{p}|{c}", w) for p, c, w in data.REGIONS])


def person_name(rng: random.Random, gender: str) -> str:
    surname = data.SURNAMES[min(int(rng.expovariate(1 / 18)), len(data.SURNAMES) - 1)]
    pool = data.GIVEN_FEMALE if gender == "female" else data.GIVEN_MALE
    given = rng.choice(pool)
    if rng.random() < 0.7:
        given = rng.choice(data.GIVEN_NEUTRAL + pool) + given
    return surname + given


@functools.cache
def valid_mobile_block(head: str) -> bool:
    """Whether numbers starting with `head` (+86 and 7 digits) are valid mainland mobiles.

    Validity of the 13x/15x/18x segments is decided by their first digits, so the answer
    for the block's lowest number holds for the block; caching it keeps generation fast.
    """
    return phonenumbers.is_valid_number(phonenumbers.parse(head + "0000"))


def mobile_of(person: int, rng: random.Random) -> str:
    """A valid mainland mobile in E.164; unique per person (the last 8 digits are a bijection)."""
    suffix = f"{(person * 48271 + 1234567) % 100_000_000:08d}"
    start = rng.randrange(len(data.MOBILE_PREFIXES))
    for step in range(len(data.MOBILE_PREFIXES)):
        candidate = (
            "+86" + data.MOBILE_PREFIXES[(start + step) % len(data.MOBILE_PREFIXES)] + suffix
        )
        if valid_mobile_block(candidate[:10]):
            return candidate
    msg = f"no valid mobile ends in {suffix}"
    raise ValueError(msg)


@dataclass
class Record:
    customer_id: int
    person: int
    source: str
    identities: list[tuple[str, str]]
    mobile: str | None
    shared_mobile_identity: bool = True


@dataclass
class Context:
    size: Size
    writer: Writer
    workspace_id: int
    rng: random.Random
    staff_ids: list[int]
    tag_ids: list[int]
    product_rows: list[tuple[int, str, str, int]]
    next_id: dict[str, int] = field(default_factory=dict)
    truth: list[dict[str, Any]] = field(default_factory=list)
    duplicate_pairs: int = 0
    hard_negative_names: dict[str, int] = field(default_factory=dict)

    def ids(self, table: str, n: int) -> range:
        start = self.next_id.get(table, 1)
        self.next_id[table] = start + n
        return range(start, start + n)


CUSTOMER_COLUMNS = cols(
    "id workspace_id name gender birthday mobile mobile_last4 province city lifecycle_stage "
    "source custom_fields order_count total_paid_fen first_order_at last_order_at "
    "last_active_at created_at updated_at"
)
IDENTITY_COLUMNS = cols("id workspace_id customer_id kind value source created_at")
FOLLOW_COLUMNS = cols(
    "id workspace_id customer_id staff_id added_at add_way state status created_at updated_at"
)
TAG_COLUMNS = cols("workspace_id customer_id tag_id source actor created_at")
ORDER_COLUMNS = cols(
    "id workspace_id platform platform_order_id customer_id store status total_fen paid_fen "
    "discount_fen shipping_fen refunded_fen ordered_at paid_at buyer_id receiver_name "
    "receiver_mobile receiver_province receiver_city created_at updated_at"
)
ITEM_COLUMNS = cols(
    "id workspace_id order_id product_id sku name quantity unit_price_fen amount_fen"
)
EVENT_COLUMNS = cols(
    "id workspace_id event_key customer_id event_type occurred_at properties received_at"
)


def records_for_chunk(ctx: Context, person_start: int, wanted: int) -> tuple[list[Record], int]:
    """Customer records for persons from `person_start` until `wanted` records exist."""
    rng = ctx.rng
    records: list[Record] = []
    person = person_start
    while len(records) < wanted:
        mobile = mobile_of(person, rng)
        duplicate = rng.random() < DUPLICATE_SHARE and wanted - len(records) >= 2
        if duplicate:
            ids = ctx.ids("customer", 2)
            e164 = mobile
            records.append(
                Record(
                    ids[0], person, "天猫", [(TAOBAO, f"tb{person:09d}"), (MOBILE, e164)], mobile
                )
            )
            records.append(
                Record(
                    ids[1],
                    person,
                    "渠道活码",
                    [(WECOM, f"wm{person:012x}AbC"), (MOBILE, e164)],
                    mobile,
                    shared_mobile_identity=False,
                )
            )
            ctx.duplicate_pairs += 1
        else:
            (customer_id,) = ctx.ids("customer", 1)
            source = pick_source(rng)
            identities = [(CHANNEL_KIND[source], channel_value(CHANNEL_KIND[source], person))]
            has_mobile = rng.random() < 0.3
            if has_mobile:
                identities.append((MOBILE, mobile))
            records.append(
                Record(customer_id, person, source, identities, mobile if has_mobile else None)
            )
        person += 1
    return records, person


def channel_value(kind: str, person: int) -> str:
    return {
        WECOM: f"wm{person:012x}AbC",
        TAOBAO: f"tb{person:09d}",
        JD: f"jd_{person:09d}",
        PDD: f"pdd{person:010d}",
        STORE_MEMBER: f"M{person:010d}",
        UNIONID: f"oU{person:014x}x",
    }[kind]


ACTIVITY = {"new": 0.4, "active": 1.3, "loyal": 2.6, "dormant": 0.6, "churned": 0.3}


@dataclass
class Person:
    name: str
    gender: str
    province: str
    city: str


Rows = dict[str, list[tuple[Any, ...]]]


def write_chunk(ctx: Context, records: list[Record]) -> None:
    rows: Rows = {
        table: []
        for table in ("customer", "identity", "follow_relation", "customer_tag",
                      "customer_order", "order_item", "event")
    }  # fmt: skip
    people: dict[int, Person] = {}
    for record in records:
        if record.person not in people:
            gender = "female" if ctx.rng.random() < 0.62 else "male"
            province, city = pick_region(ctx.rng).split("|")
            people[record.person] = Person(person_name(ctx.rng, gender), gender, province, city)
        customer_rows(ctx, record, people[record.person], rows)
    for table, columns in (
        ("customer", CUSTOMER_COLUMNS),
        ("identity", IDENTITY_COLUMNS),
        ("follow_relation", FOLLOW_COLUMNS),
        ("customer_tag", TAG_COLUMNS),
        ("customer_order", ORDER_COLUMNS),
        ("order_item", ITEM_COLUMNS),
        ("event", EVENT_COLUMNS),
    ):
        ctx.writer.write(table, columns, rows[table])
    ctx.writer.commit()
    record_truth(ctx, records, {p: person.name for p, person in people.items()})


def customer_rows(ctx: Context, record: Record, person: Person, rows: Rows) -> None:
    """One customer with its identities, follow relation, tags, orders and events."""
    rng, w, ws = ctx.rng, ctx.writer, ctx.workspace_id
    stage = pick_stage(rng)
    created = w.ts(NOW_S - rng.randrange(ORDER_DAYS * 86400))
    birthday = date(rng.randint(1965, 2004), rng.randint(1, 12), rng.randint(1, 28))
    order_times, paid_total = order_rows(ctx, record, person, ACTIVITY[stage], rows)
    last_event_s = event_rows(ctx, record, ACTIVITY[stage], rows)
    last_active_s = max([last_event_s, *order_times[-1:]])
    rows["customer"].append(
        (record.customer_id, ws, person.name, person.gender, birthday.isoformat(), record.mobile,
         record.mobile[-4:] if record.mobile else None, person.province, person.city, stage,
         record.source, "{}", len(order_times), paid_total,
         w.ts(order_times[0]) if order_times else None,
         w.ts(order_times[-1]) if order_times else None,
         w.ts(last_active_s) if last_active_s else None, created, created)
    )  # fmt: skip
    for kind, value in record.identities:
        if kind == MOBILE and not record.shared_mobile_identity:
            continue
        (identity_id,) = ctx.ids("identity", 1)
        rows["identity"].append(
            (identity_id, ws, record.customer_id, kind, value, "bench", created)
        )
    if record.source in {"渠道活码", "门店"} or rng.random() < 0.5:
        (follow_id,) = ctx.ids("follow_relation", 1)
        add_way = "qr_code" if record.source == "渠道活码" else "search"
        rows["follow_relation"].append(
            (follow_id, ws, record.customer_id, rng.choice(ctx.staff_ids), created, add_way, None,
             "active", created, created)
        )  # fmt: skip
    tags_per_customer = ctx.size.tag_assignments / ctx.size.customers
    n_tags = min(int(rng.expovariate(1 / tags_per_customer)) + 1, len(ctx.tag_ids))
    chosen = {ctx.tag_ids[int(len(ctx.tag_ids) * rng.random() ** 2)] for _ in range(n_tags)}
    rows["customer_tag"].extend(
        (ws, record.customer_id, t, "import", "bench", created) for t in sorted(chosen)
    )


def order_rows(
    ctx: Context, record: Record, person: Person, activity: float, rows: Rows
) -> tuple[list[int], int]:
    """Heavy-tailed orders over three years (none for many); returns times and net paid."""
    rng, w, ws = ctx.rng, ctx.writer, ctx.workspace_id
    mean = ctx.size.orders / ctx.size.customers * activity
    order_times = sorted(
        NOW_S - rng.randrange(ORDER_DAYS * 86400) for _ in range(int(rng.expovariate(1 / mean)))
    )
    platform = data.SOURCE_PLATFORM[record.source]
    buyer_id = channel_value(TAOBAO, record.person) if platform == "tmall" else None
    paid_total = 0
    for ordered_s in order_times:
        (order_id,) = ctx.ids("customer_order", 1)
        total = 0
        n_items = 1 if rng.random() < 0.75 else rng.randint(2, 3)
        for product_id, sku, product_name, price in rng.sample(ctx.product_rows, n_items):
            quantity = 1 if rng.random() < 0.8 else 2
            (item_id,) = ctx.ids("order_item", 1)
            rows["order_item"].append(
                (item_id, ws, order_id, product_id, sku, product_name, quantity, price,
                 price * quantity)
            )  # fmt: skip
            total += price * quantity
        discount = total // 10 if rng.random() < 0.4 else 0
        status = "completed" if rng.random() < 0.93 else "refunded"
        paid = total - discount
        refunded = paid if status == "refunded" else 0
        paid_total += paid - refunded
        store = rng.choice(STORE_NAMES) if platform == "generic" else None
        at = w.ts(ordered_s)
        rows["customer_order"].append(
            (order_id, ws, platform, f"{platform[:2].upper()}{order_id:012d}", record.customer_id,
             store, status, total, paid, discount, 0, refunded, at, at, buyer_id, person.name,
             record.mobile, person.province, person.city, at, at)
        )  # fmt: skip
    return order_times, paid_total


def event_rows(ctx: Context, record: Record, activity: float, rows: Rows) -> int:
    """Events over the last 180 days, more for active stages; returns the newest time (or 0)."""
    rng, w, ws = ctx.rng, ctx.writer, ctx.workspace_id
    mean = ctx.size.events / ctx.size.customers * activity
    last_event_s = 0
    for _ in range(int(rng.expovariate(1 / mean))):
        occurred_s = NOW_S - rng.randrange(EVENT_DAYS * 86400)
        last_event_s = max(last_event_s, occurred_s)
        (event_id,) = ctx.ids("event", 1)
        event_type, properties = event_body(rng)
        at = w.ts(occurred_s)
        rows["event"].append(
            (event_id, ws, f"bench-{event_id}", record.customer_id, event_type, at, properties, at)
        )
    return last_event_s


def record_truth(ctx: Context, records: list[Record], names: dict[int, str]) -> None:
    """Keep every duplicate person's records and one single-record person per duplicate."""
    by_person: dict[int, list[Record]] = {}
    for record in records:
        by_person.setdefault(record.person, []).append(record)
    singles_wanted = 0
    for person, person_records in by_person.items():
        if len(person_records) == 2:
            singles_wanted += 1
            ctx.hard_negative_names[names[person]] = person
            ctx.truth.extend(truth_row(r, names[person]) for r in person_records)
    for person, person_records in by_person.items():
        if singles_wanted == 0:
            break
        if len(person_records) == 1 and (
            names[person] in ctx.hard_negative_names or ctx.rng.random() < 0.2
        ):
            ctx.truth.append(truth_row(person_records[0], names[person]))
            singles_wanted -= 1


def truth_row(record: Record, name: str) -> dict[str, Any]:
    return {
        "person": record.person,
        "customer_id": record.customer_id,
        "name": name,
        "source": record.source,
        "identities": record.identities,
    }


def event_body(rng: random.Random) -> tuple[str, str]:
    spec = rng.choices(data.EVENT_TYPES, [e.weight for e in data.EVENT_TYPES])[0]
    product = rng.choice(data.PRODUCTS)
    properties: dict[str, Any]
    match spec.name:
        case "page_view":
            properties = {"page": rng.choice(data.PAGES), "referrer": rng.choice(data.REFERRERS)}
        case "product_view":
            properties = {
                "sku": product.sku,
                "product_name": product.name,
                "category": product.category,
            }
        case "add_to_cart":
            properties = {"sku": product.sku, "quantity": rng.randint(1, 3)}
        case "coupon_received":
            coupon, value = rng.choice(data.COUPONS)
            properties = {"coupon": coupon, "value_fen": value}
        case "article_read":
            properties = {"title": rng.choice(data.ARTICLES)}
        case "live_stream_watch":
            properties = {
                "room": rng.choice(data.LIVE_ROOMS),
                "duration_seconds": rng.randint(30, 3600),
            }
        case "mini_program_open":
            properties = {"scene": rng.choice(data.MINI_PROGRAM_SCENES)}
        case _:
            properties = {"store": rng.choice(STORE_NAMES)}
    return spec.name, json.dumps(properties, ensure_ascii=False)


def write_reference_rows(ctx: Context) -> None:
    """Departments, staff, tag groups and tags, products and event types."""
    w, ws, rng = ctx.writer, ctx.workspace_id, ctx.rng
    now = w.ts(NOW_S)
    departments = [
        (i, ws, f"{spec.name}", None, i, 0, now, now)
        for i, spec in zip(
            ctx.ids("department", len(data.DEPARTMENTS)), data.DEPARTMENTS, strict=True
        )
    ]
    w.write(
        "department",
        cols("id workspace_id name parent_id wecom_id sort_order created_at updated_at"),
        departments,
    )
    department_ids = [row[0] for row in departments]
    staff_rows = [
        (
            i,
            ws,
            person_name(rng, rng.choice(("female", "male"))),
            f"staff{n:05d}",
            rng.choice(("导购", "店长", "客服")),
            rng.choice(department_ids),
            "active",
            now,
            now,
        )
        for n, i in enumerate(ctx.ids("staff", ctx.size.staff))
    ]
    w.write(
        "staff",
        cols(
            "id workspace_id name wecom_userid position department_id status created_at updated_at"
        ),
        staff_rows,
    )
    ctx.staff_ids = [row[0] for row in staff_rows]
    groups_needed = max(1, ctx.size.tags // 20)
    group_rows = [
        (
            i,
            ws,
            (
                data.TAG_GROUPS[n % len(data.TAG_GROUPS)][0]
                + (f" {n // len(data.TAG_GROUPS)}" if n >= len(data.TAG_GROUPS) else "")
            ),
            n,
            now,
            now,
        )
        for n, i in enumerate(ctx.ids("tag_group", groups_needed))
    ]
    w.write("tag_group", cols("id workspace_id name sort_order created_at updated_at"), group_rows)
    tag_rows = [
        (i, ws, group_rows[n % groups_needed][0], f"标签{n:04d}", n, now, now)
        for n, i in enumerate(ctx.ids("tag", ctx.size.tags))
    ]
    w.write("tag", cols("id workspace_id group_id name sort_order created_at updated_at"), tag_rows)
    ctx.tag_ids = [row[0] for row in tag_rows]
    product_rows = [
        (i, ws, "tmall", spec.sku, spec.name, spec.category, spec.price_fen, now, now)
        for i, spec in zip(ctx.ids("product", len(data.PRODUCTS)), data.PRODUCTS, strict=True)
    ]
    w.write(
        "product",
        cols("id workspace_id platform external_id name category price_fen created_at updated_at"),
        product_rows,
    )
    ctx.product_rows = [(r[0], r[3], r[4], r[6]) for r in product_rows]
    w.write(
        "event_type",
        cols(
            "id workspace_id name display_name properties_schema counted_properties"
            " created_at updated_at"
        ),
        [
            (
                i,
                ws,
                spec.name,
                spec.display_name,
                json.dumps(schema_of(spec.properties)),
                json.dumps(list(spec.counted)),
                now,
                now,
            )
            for i, spec in zip(
                ctx.ids("event_type", len(data.EVENT_TYPES)), data.EVENT_TYPES, strict=True
            )
        ],
    )
    w.commit()


def schema_of(properties: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in properties.items()},
    }


def next_ids(engine: Engine, tables: Iterable[str]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: (connection.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1
            for table in tables
        }


def create_workspace(engine: Engine, size: str) -> tuple[int, str, str]:
    slug = f"bench-{size.lower()}"
    with unit_of_work(engine) as session:
        workspace = workspace_service.create_workspace(
            session, slug=slug, name=f"山茶集 bench {size}"
        )
        workspace_service.create_user(
            session,
            workspace_id=workspace.id,
            email=f"bench-{size.lower()}@siyu.local",
            name="bench",
            password="bench-password",  # noqa: S106 - a local benchmark database
            role=Role.ADMIN,
        )
        key = workspace_service.create_api_key(
            session, workspace_id=workspace.id, name="bench", role=Role.ADMIN
        )
        return workspace.id, slug, key.plaintext


def generate(url: str, size_name: str, seed: int) -> Dataset:
    size = SIZES[size_name]
    engine = build_engine(url)
    migrate.upgrade(engine)
    workspace_id, slug, api_key = create_workspace(engine, size_name)
    writer = writer_for(engine)
    ctx = Context(size, writer, workspace_id, random.Random(seed), [], [], [])
    ctx.next_id = next_ids(
        engine,
        [
            "department",
            "staff",
            "tag_group",
            "tag",
            "product",
            "event_type",
            "customer",
            "identity",
            "follow_relation",
            "customer_order",
            "order_item",
            "event",
        ],
    )
    started = time.perf_counter()
    write_reference_rows(ctx)
    person = 0
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} customers"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"generating {size_name}", total=size.customers)
        remaining = size.customers
        while remaining > 0:
            records, person = records_for_chunk(ctx, person, min(CHUNK, remaining))
            write_chunk(ctx, records)
            remaining -= len(records)
            progress.advance(task, len(records))
    writer.finish()
    with unit_of_work(engine) as session:  # the rows bypassed the tag counts and bits kept
        tags_service.recount_tags(session, workspace_id)
        tags_service.rebuild_bits(session, workspace_id)
    elapsed = time.perf_counter() - started
    engine.dispose()
    truth_path = DATA_DIR / f"truth-{size_name}-{url_tag(url)}.jsonl"
    with truth_path.open("w") as out:
        for row in ctx.truth:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = writer.rows_written
    total_rows = sum(counts.values())
    for table, n in counts.items():
        console.print(f"  {table:<16} {n:>12,} rows")
    console.print(
        f"{total_rows:,} rows in {elapsed:.1f} s = [bold]{total_rows / elapsed:,.0f} rows/s[/bold]"
        f" on {database_label(url)}; {ctx.duplicate_pairs:,} planted duplicate pairs"
    )
    dataset = Dataset(
        database_url=url,
        size=size_name,
        seed=seed,
        workspace_id=workspace_id,
        workspace_slug=slug,
        api_key=api_key,
        customers=counts.get("customer", 0),
        identities=counts.get("identity", 0),
        duplicate_pairs=ctx.duplicate_pairs,
        truth_path=str(truth_path),
        counts=counts,
    )
    console.print(f"dataset description: {dataset.save()}")
    return dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        recreate_database(args.database_url)
    else:
        ensure_database(args.database_url)
    generate(args.database_url, args.size, args.seed)


if __name__ == "__main__":
    main()
