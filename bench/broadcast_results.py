"""Reading a large broadcast's results: counts by status and reason, waiting retries and
their labels, clicks (overall and by link channel), conversions, opens and shares.

    .venv/bin/python -m bench.broadcast_results --database-url $URL [--recipients 200000]
        [--runs 5] [--fresh]

Generates (once per database; `--fresh` starts over) a workspace `bench-results` with
`--recipients` customers and one sent email broadcast to all of them, written straight
into the tables: deliveries sent (most), failed for good (smtp_550, smtp_552), waiting
for another try (smtp_451, smtp_421) or excluded (opted_out, no_address); one tracked link
per recipient, opened by 10% of them (some twice, some forwarded to a stranger). Then
times `messaging.service.results` (what `GET /broadcasts/{id}/results` runs) and, apart,
the two parts issue 6 added to it: clicks by link channel (two grouped queries) and the
reason labels. Prints medians of wall and CPU time per call and per recipient.
"""

import argparse
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

from bench.common import (
    DEFAULT_DATABASE_URL,
    database_label,
    ensure_database,
    median,
    recreate_database,
)
from siyu.content import links
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging import reasons, service
from siyu.models import (
    Broadcast,
    Customer,
    Delivery,
    LinkVisit,
    LinkVisitor,
    ShareEdge,
    TrackedLink,
    Workspace,
)
from siyu.workspace.principal import Principal

SLUG = "bench-results"
BATCH = 5000
# status, reason, weight
OUTCOMES = (
    ("sent", None, 900),
    ("failed", "smtp_550", 20),
    ("failed", "smtp_552", 5),
    ("pending", "smtp_451", 15),
    ("pending", "smtp_421", 5),
    ("excluded", "opted_out", 30),
    ("excluded", "no_address", 25),
)
CLICK_RATE = 0.1


def _insert(engine: Engine, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), BATCH):
        with unit_of_work(engine) as session:
            found = session.scalars(
                insert(model).returning(model.id, sort_by_parameter_order=True),
                rows[start : start + BATCH],
            )
            ids += list(found)
    return ids


def generate(engine: Engine, recipients: int) -> tuple[int, int]:
    """The workspace and its broadcast (made once)."""
    with unit_of_work(engine) as session:
        workspace = session.scalar(select(Workspace).where(Workspace.slug == SLUG))
        if workspace is not None:
            broadcast_id = session.scalar(
                select(Broadcast.id).where(Broadcast.workspace_id == workspace.id)
            )
            assert broadcast_id is not None
            return workspace.id, broadcast_id
        workspace = Workspace(slug=SLUG, name="results bench")
        session.add(workspace)
        session.flush()
        workspace_id = workspace.id
        broadcast = Broadcast(
            workspace_id=workspace_id,
            name="会员日",
            channel="email",
            status="sending",
            content={"subject": "会员日", "text": "https://shop.example.cn/day"},
        )
        session.add(broadcast)
        session.flush()
        broadcast_id = broadcast.id
    rng = random.Random(6)
    now = utcnow()
    customers = _insert(
        engine,
        Customer,
        [
            {"workspace_id": workspace_id, "name": f"会员{n}", "email": f"m{n}@example.cn"}
            for n in range(recipients)
        ],
    )
    weights = [w for _, _, w in OUTCOMES]
    deliveries: list[dict[str, Any]] = []
    for customer_id in customers:
        status, reason, _ = rng.choices(OUTCOMES, weights)[0]
        deliveries.append(
            {
                "workspace_id": workspace_id,
                "broadcast_id": broadcast_id,
                "customer_id": customer_id,
                "channel": "email",
                "status": status,
                "reason": reason,
                "sent_at": now if status == "sent" else None,
                "attempts": 0 if status == "excluded" else 1,
            }
        )
    _insert(engine, Delivery, deliveries)
    reached: list[int] = [d["customer_id"] for d in deliveries if d["status"] == "sent"]
    link_ids = _insert(
        engine,
        TrackedLink,
        [
            {
                "workspace_id": workspace_id,
                "code": secrets.token_urlsafe(8),
                "dedupe_key": f"{broadcast_id}-{customer_id}",
                "url": "https://shop.example.cn/day",
                "customer_id": customer_id,
                "broadcast_id": broadcast_id,
                "channel": "email",
                "created_at": now,
            }
            for customer_id in reached
        ],
    )
    clickers = [
        (c, link) for c, link in zip(reached, link_ids, strict=True) if rng.random() < CLICK_RATE
    ]
    visitors = _insert(
        engine,
        LinkVisitor,
        [
            {
                "workspace_id": workspace_id,
                "visitor_key": secrets.token_urlsafe(16),
                "customer_id": customer_id,
                "first_seen_at": now,
                "bound_at": now,
            }
            for customer_id, _ in clickers
        ],
    )
    visits: list[dict[str, Any]] = []
    for (customer_id, link_id), visitor_id in zip(clickers, visitors, strict=True):
        for _ in range(1 + (rng.random() < 0.2)):
            visits.append(
                {
                    "workspace_id": workspace_id,
                    "link_id": link_id,
                    "visitor_id": visitor_id,
                    "customer_id": customer_id,
                    "kind": "own",
                    "visited_at": now,
                }
            )
    forwarded = [(c, link) for c, link in clickers if rng.random() < 0.2]
    strangers = _insert(
        engine,
        LinkVisitor,
        [
            {
                "workspace_id": workspace_id,
                "visitor_key": secrets.token_urlsafe(16),
                "first_seen_at": now,
            }
            for _ in forwarded
        ],
    )
    for (_, link_id), visitor_id in zip(forwarded, strangers, strict=True):
        visits.append(
            {
                "workspace_id": workspace_id,
                "link_id": link_id,
                "visitor_id": visitor_id,
                "customer_id": None,
                "kind": "shared",
                "visited_at": now,
            }
        )
    _insert(engine, LinkVisit, visits)
    _insert(
        engine,
        ShareEdge,
        [
            {
                "workspace_id": workspace_id,
                "link_id": link_id,
                "broadcast_id": broadcast_id,
                "sharer_customer_id": customer_id,
                "visitor_id": visitor_id,
                "first_at": now,
                "last_at": now,
                "opens": 1,
            }
            for (customer_id, link_id), visitor_id in zip(forwarded, strangers, strict=True)
        ],
    )
    return workspace_id, broadcast_id


def _timed(runs: int, call: Callable[[], object]) -> tuple[float, float]:
    """Median wall and CPU seconds of `runs` calls."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return median(walls), median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    if args.fresh:
        recreate_database(args.database_url)
    ensure_database(args.database_url)
    engine = build_engine(args.database_url)
    migrate.upgrade(engine)
    started = time.perf_counter()
    workspace_id, broadcast_id = generate(engine, args.recipients)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # fresh statistics, as autovacuum keeps them
            connection.execute(text("ANALYZE"))
    print(
        f"{database_label(args.database_url)}: data ready in {time.perf_counter() - started:.1f} s"
    )
    principal = Principal.system(workspace_id)
    with unit_of_work(engine, write=False) as session:
        size = (
            session.scalar(select(func.count()).where(Delivery.broadcast_id == broadcast_id)) or 1
        )
        found = service.results(session, principal, broadcast_id)
        print(
            f"{size:,} deliveries; clicked {found.counts.clicked:,}, by link "
            f"{found.clicked_by_link}, waiting {found.waiting_by_reason}, "
            f"labels {len(found.reason_labels)}"
        )
        parts: list[tuple[str, Callable[[], object]]] = [
            ("results (whole)", lambda: service.results(session, principal, broadcast_id)),
            (
                "  clicks by link channel",
                lambda: links.clicks_by_channel(session, workspace_id, broadcast_id),
            ),
            (
                "  reason labels",
                lambda: {c: reasons.label(c, "email") for c in found.reason_labels},
            ),
        ]
        for name, call in parts:
            wall, cpu = _timed(args.runs, call)
            print(
                f"{name:26} wall {wall * 1000:9.1f} ms  cpu {cpu * 1000:9.1f} ms  "
                f"({cpu / size * 1e6:.3f} µs cpu per delivery)"
            )


if __name__ == "__main__":
    main()
