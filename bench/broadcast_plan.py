"""Planning a 1M-recipient broadcast per channel: snapshot, eligibility, delivery rows.

    .venv/bin/python -m bench.broadcast_plan --database-url $PG [--customers 1000000]
        [--runs 3] [--channels email,sms,wecom] [--fresh]

Generates (once per database; `--fresh` starts over) a workspace `bench-plan` with
`--customers` customers written straight into the tables (COPY on PostgreSQL): emails and
mobiles, some shared by two customers, WeCom external userids with follow relations to
1,000 staff (some resigned, some relations deleted), opt-outs per channel and for all,
and three earlier broadcasts per channel (20 days, 5 days and 10 minutes before the
run) whose deliveries feed the frequency caps and WeCom's quota. A static segment holds
every customer. Runs plan as of the generation time, so the earlier deliveries always
fall in the same windows.

Each run and channel, in one transaction rolled back at the end (so runs are alike):
the eligibility preview (`POST /broadcasts/eligibility`'s counts by reason), then
`planning.plan` as the start job runs it — the audience frozen at that moment and
written, with each customer's exclusion reason, as delivery rows in one INSERT … SELECT,
then the counts — and, for comparison, `take_snapshot` as the segments page takes one
(the same audience copied into member rows). Prints medians per phase, the sizes and
the excluded counts per reason. Target: plan ≤ 60 s.
"""

import argparse
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bench.common import (
    DEFAULT_DATABASE_URL,
    database_label,
    ensure_database,
    median,
    recreate_database,
)
from bench.writers import Writer, writer_for
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import session_factory, unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging import planning
from siyu.messaging import rules as messaging_rules
from siyu.messaging.schemas import FrequencyCap, MessagingRules
from siyu.models import Broadcast, Customer, Delivery, Segment, SegmentMember, Workspace
from siyu.segments import service as segments_service
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

console = Console()

SLUG = "bench-plan"
CHUNK = 50_000
STAFF = 1_000
CHANNELS = ("email", "sms", "wecom")
# channel → (share of customers with an address, share sharing the previous one's address)
ADDRESSES = {"email": (0.80, 0.015), "sms": (0.85, 0.01)}
WECOM_SHARE = 0.65
OPT_OUT = {"email": 0.02, "sms": 0.02, "wecom": 0.01, "all": 0.005}
# earlier broadcasts per channel: (how long before the run, share of customers reached)
EARLIER = (
    (timedelta(days=20), 0.30),
    (timedelta(days=5), 0.30),
    (timedelta(minutes=10), 0.10),
)
RULES = MessagingRules(
    frequency_caps={
        "email": FrequencyCap(max_messages=2, days=7),
        "sms": FrequencyCap(max_messages=1, days=3),
        "wecom": FrequencyCap(max_messages=3, days=30),
    },
    wecom_quota="day",
)


@dataclass
class Rows:
    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables.setdefault(table, []).append(row)


COLUMNS = {
    "customer": "id workspace_id name email mobile lifecycle_stage custom_fields"
    " order_count total_paid_fen created_at updated_at",
    "identity": "id workspace_id customer_id kind value source created_at",
    "follow_relation": "id workspace_id customer_id staff_id added_at status created_at updated_at",
    "opt_out": "id workspace_id customer_id channel source opted_out_at",
    "segment_member": "workspace_id segment_id customer_id entered_at",
    "delivery": "id workspace_id broadcast_id customer_id channel address status attempts sent_at",
}


def _find_workspace(engine: Engine) -> int | None:
    with Session(engine) as session:
        return session.scalar(select(Workspace.id).where(Workspace.slug == SLUG))


def _generate(engine: Engine, customers: int, seed: int) -> int:
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    with unit_of_work(engine) as session:
        workspace_id = workspace_service.create_workspace(
            session, slug=SLUG, name="山茶集 群发规划"
        ).id
        messaging_rules.write(session, workspace_id, RULES)
        segment = Segment(workspace_id=workspace_id, name="全部会员", kind="static", status="ready")
        session.add(segment)
        earlier = {}
        for channel in CHANNELS:
            for ago, _ in EARLIER:
                broadcast = Broadcast(
                    workspace_id=workspace_id,
                    name=f"earlier {channel} {ago}",
                    channel=channel,
                    status="completed",
                    finished_at=now,
                )
                session.add(broadcast)
                session.flush()
                earlier[(channel, ago)] = broadcast.id
        segment.member_count = customers
        session.flush()
        segment_id = segment.id
    writer = writer_for(engine)
    now_s = int(now.timestamp())
    staff = _write_staff(writer, workspace_id, rng, now_s)
    ids = {"identity": 1, "follow_relation": 1, "opt_out": 1, "delivery": 1}
    started = time.perf_counter()
    for start in range(0, customers, CHUNK):
        rows = Rows()
        for n in range(start, min(start + CHUNK, customers)):
            _customer(rows, ids, rng, Person(workspace_id, n, writer, now_s), staff, earlier)
            rows.add("segment_member", (workspace_id, segment_id, n + 1, writer.ts(now_s)))
        for table, row_list in rows.tables.items():
            writer.write(table, COLUMNS[table].split(), row_list)
        writer.commit()
        done = min(start + CHUNK, customers)
        console.print(f"  {done:,} customers, {time.perf_counter() - started:.0f} s")
    writer.finish()
    return workspace_id


def _write_staff(writer: Writer, workspace_id: int, rng: random.Random, now_s: int) -> list[int]:
    rows = []
    for n in range(1, STAFF + 1):
        status = "resigned" if rng.random() < 0.03 else "active"
        userid = None if rng.random() < 0.01 else f"staff{n:05d}"
        ts = writer.ts(now_s)
        rows.append((n, workspace_id, f"导购{n:04d}", userid, status, ts, ts))
    columns = "id workspace_id name wecom_userid status created_at updated_at"
    writer.write("staff", columns.split(), rows)
    writer.commit()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class Person:
    workspace_id: int
    n: int
    writer: Writer
    now_s: int


def _customer(
    rows: Rows,
    ids: dict[str, int],
    rng: random.Random,
    person: Person,
    staff: list[int],
    earlier: dict[tuple[str, timedelta], int],
) -> None:
    """One customer with addresses, a WeCom identity and followers, opt-outs, deliveries."""
    ws, n, customer_id = person.workspace_id, person.n, person.n + 1
    ts = person.writer.ts(person.now_s - 86400 * 400)

    def address(channel: str) -> str | None:
        present, shared = ADDRESSES[channel]
        if rng.random() >= present:
            return None
        owner = n - 1 if n > 0 and rng.random() < shared else n
        return f"member{owner}@example.cn" if channel == "email" else f"+86138{owner:08d}"

    def next_id(table: str) -> int:
        ids[table] += 1
        return ids[table] - 1

    email, mobile = address("email"), address("sms")
    rows.add("customer", (customer_id, ws, f"会员{n}", email, mobile, "active", "{}", 0, 0, ts, ts))
    addresses = {"email": email, "sms": mobile}
    if rng.random() < WECOM_SHARE:
        userid = f"wm{n:012x}AbC"
        addresses["wecom"] = userid
        rows.add(
            "identity",
            (next_id("identity"), ws, customer_id, "wecom_external_userid", userid, "bench", ts),
        )
        status = "active" if rng.random() < 0.92 else "deleted_by_customer"
        for staff_id in rng.sample(staff, 2 if rng.random() < 0.1 else 1):
            rows.add(
                "follow_relation",
                (next_id("follow_relation"), ws, customer_id, staff_id, ts, status, ts, ts),
            )
    for channel, share in OPT_OUT.items():
        if rng.random() < share:
            rows.add("opt_out", (next_id("opt_out"), ws, customer_id, channel, "bench", ts))
    for channel in CHANNELS:
        for ago, share in EARLIER:
            if addresses.get(channel) and rng.random() < share:
                sent = person.writer.ts(person.now_s - int(ago.total_seconds()))
                rows.add(
                    "delivery",
                    (next_id("delivery"), ws, earlier[(channel, ago)], customer_id, channel,
                     addresses[channel], "delivered", 1, sent),
                )  # fmt: skip


# --- the runs --------------------------------------------------------------------------


@dataclass
class Run:
    preview: float
    plan: float
    snapshot_copy: float
    excluded: dict[str, int]
    planned: int


def _vacuum(engine: Engine) -> None:
    """Clear what the previous run's rollback left, so every run starts alike."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE delivery, segment_snapshot_member"))


def _plan_once(engine: Engine, workspace_id: int, channel: str) -> Run:
    _vacuum(engine)
    session = session_factory(engine)()
    try:
        segment_id = session.scalars(
            select(Segment.id).where(Segment.workspace_id == workspace_id)
        ).one()
        as_of = session.scalar(
            select(func.max(Broadcast.finished_at)).where(Broadcast.workspace_id == workspace_id)
        )
        assert as_of is not None
        broadcast = Broadcast(
            workspace_id=workspace_id,
            name=f"bench {channel}",
            channel=channel,
            status="planning",
            segment_id=segment_id,
        )
        session.add(broadcast)
        session.flush()
        started = time.perf_counter()
        audience = planning.segment_audience(session, workspace_id, segment_id)
        counted = planning.eligibility(session, workspace_id, channel, audience, now=as_of)
        previewed = time.perf_counter()
        planning.plan(session, broadcast, now=as_of)
        planned = time.perf_counter()
        assert broadcast.planned_count == counted.eligible
        system = Principal(workspace_id=workspace_id, role=Role.OPERATOR)
        segments_service.take_snapshot(session, system, segment_id, "bench")
        copied = time.perf_counter()
        return Run(
            preview=previewed - started,
            plan=planned - previewed,
            snapshot_copy=copied - planned,
            excluded=counted.excluded,
            planned=broadcast.planned_count,
        )
    finally:
        session.rollback()
        session.close()


def _sizes(engine: Engine, workspace_id: int) -> dict[str, int]:
    with Session(engine) as session:
        return {
            "customers": session.scalar(
                select(func.count()).where(Customer.workspace_id == workspace_id)
            )
            or 0,
            "segment members": session.scalar(
                select(func.count()).where(SegmentMember.workspace_id == workspace_id)
            )
            or 0,
            "earlier deliveries": session.scalar(
                select(func.count()).where(Delivery.workspace_id == workspace_id)
            )
            or 0,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    if args.fresh:
        recreate_database(args.database_url)
    else:
        ensure_database(args.database_url)
    engine = build_engine(args.database_url)
    migrate.upgrade(engine)
    workspace_id = _find_workspace(engine)
    if workspace_id is None:
        label = database_label(args.database_url)
        console.print(f"generating {args.customers:,} customers in {label}")
        workspace_id = _generate(engine, args.customers, args.seed)
        # the writer hands its connection back to the pool in autocommit mode
        engine.dispose()
    sizes = _sizes(engine, workspace_id)
    console.print(f"database: {database_label(args.database_url)}")
    console.print("sizes: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    for channel in args.channels.split(","):
        runs = []
        for number in range(args.runs):
            run = _plan_once(engine, workspace_id, channel)
            runs.append(run)
            console.print(
                f"  {channel} run {number + 1}: plan {run.plan:.1f} s, eligibility preview"
                f" {run.preview:.1f} s, snapshot copy {run.snapshot_copy:.1f} s"
            )
        last = runs[-1]
        console.print(
            f"[bold]{channel}[/bold] median of {len(runs)}: plan (snapshot, eligibility,"
            f" delivery rows) {median([r.plan for r in runs]):.1f} s (target 60 s);"
            f" eligibility preview {median([r.preview for r in runs]):.1f} s; a segment"
            f" snapshot with member rows {median([r.snapshot_copy for r in runs]):.1f} s;"
            f" planned {last.planned:,}, excluded {sum(last.excluded.values()):,}: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(last.excluded.items()))
        )
    engine.dispose()


if __name__ == "__main__":
    main()
