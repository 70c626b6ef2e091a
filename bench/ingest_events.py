"""Event ingest through the HTTP batch endpoint, against a raw bulk insert of the same rows.

    .venv/bin/python -m bench.ingest_events [--database-url URL] [--runs 3] [--events 50000]

Each run starts `siyu serve` (uvicorn, no worker) in a subprocess on a free localhost
port, creates a fresh workspace with an API key and `--customers` customers that have a
mobile identity, and posts `--events` events in batches of 1,000 to
POST /api/v1/events/batch with httpx (`--clients` concurrent clients). Each event names
its customer by mobile, so every batch goes through validation, type checks, duplicate
detection, OneID resolution and the insert, exactly as an integrator's would. The request
bodies are encoded before the clock starts, as the raw insert's rows are built before its.

It also inserts the same number of equivalent rows (new keys, the same customers, types,
times and properties) with a plain SQLAlchemy Core executemany, 1,000 rows per
transaction, into the same database, and reports the ratio of the two rates. The two take
turns going first (HTTP in odd runs, the raw insert in even ones): the second writes into
tables the first has grown, which at 100,000 events a run slowed it by a third.

Because the machine is shared, each run also reports CPU time per event: the server
process's (user + system, from /proc) while the batches were posted, the clients' (this
process), the raw insert's, and on PostgreSQL the database backends' of this database;
and the load average when the runs ended.

Targets: >= 5,000 events/s through HTTP and a ratio >= 0.5.
"""

import argparse
import json
import os
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, text

from bench.callbacks import cpu_seconds
from bench.common import (
    DATA_DIR,
    DEFAULT_DATABASE_URL,
    database_label,
    ensure_database,
    free_port,
    median,
    start_server,
)
from siyu.customers import oneid
from siyu.customers.identities import IdentityRef
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.models import Event
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role

BATCH = 1000


@dataclass(frozen=True)
class Run:
    """One run's rates and CPU microseconds per event of each part."""

    http_rate: float
    raw_rate: float
    server_us: float
    client_us: float
    http_db_us: float
    raw_us: float
    raw_db_us: float

    @property
    def ratio(self) -> float:
        return self.http_rate / self.raw_rate


@dataclass(frozen=True)
class Prepared:
    workspace_id: int
    api_key: str
    customer_of: dict[str, int]  # mobile -> customer id

    @property
    def mobiles(self) -> list[str]:
        return list(self.customer_of)


def prepare_workspace(url: str, customers: int) -> Prepared:
    """A fresh workspace, its API key, and customers with mobiles (not measured)."""
    engine = build_engine(url)
    mobiles = [
        f"+86{data.MOBILE_PREFIXES[n % 10]}{(n * 7919 + 13) % 100_000_000:08d}"
        for n in range(customers)
    ]
    with unit_of_work(engine) as session:
        slug = f"ingest-{uuid.uuid4().hex[:10]}"
        workspace = workspace_service.create_workspace(session, slug=slug, name=slug)
        key = workspace_service.create_api_key(
            session, workspace_id=workspace.id, name="bench", role=Role.OPERATOR
        )
        resolved = oneid.resolve_many(
            session,
            workspace.id,
            [[IdentityRef("mobile", mobile)] for mobile in mobiles],
            source="bench",
        )
        if engine.dialect.name == "postgresql":
            # This machine's PostgreSQL runs with autovacuum off; do what it would do.
            session.execute(text("ANALYZE"))
        prepared = Prepared(
            workspace.id,
            key.plaintext,
            {m: r.customer_id for m, r in zip(mobiles, resolved, strict=True) if r.customer_id},
        )
    engine.dispose()
    return prepared


def make_events(mobiles: list[str], count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:8]
    events = []
    for n in range(count):
        spec = rng.choice(data.EVENT_TYPES)
        product = rng.choice(data.PRODUCTS)
        occurred = now - timedelta(seconds=rng.randrange(90 * 86400))
        events.append(
            {
                "id": f"bench-{run}-{n}",
                "type": spec.name,
                "occurred_at": occurred.isoformat(),
                "customer": {"mobile": rng.choice(mobiles)},
                "properties": {"sku": product.sku, "page": rng.choice(data.PAGES)},
            }
        )
    return events


def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to this database; {} on SQLite."""
    if not url.startswith("postgresql"):
        return {}
    engine = build_engine(url)
    with engine.connect() as connection:
        pids = connection.scalars(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    engine.dispose()
    return {pid: cpu_seconds(pid) for pid in pids}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def post_all(
    url: str, server_pid: int, port: int, api_key: str, events: list[dict[str, Any]], clients: int
) -> tuple[float, float, float, float]:
    """Post the events; return wall seconds and CPU seconds of the server, the clients and
    the database backends."""
    # Encoded before the clock starts, as the raw insert's rows are built before its clock.
    batches = [
        (
            json.dumps({"events": events[i : i + BATCH], "unknown_customers": "reject"}).encode(),
            len(events[i : i + BATCH]),
        )
        for i in range(0, len(events), BATCH)
    ]
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def send(client_batches: list[tuple[bytes, int]]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for batch, size in client_batches:
                response = client.post("/api/v1/events/batch", content=batch, timeout=120)
                response.raise_for_status()
                body = response.json()
                if body["accepted"] != size:
                    msg = f"not every event was accepted: {str(body)[:500]}"
                    raise RuntimeError(msg)

    shares = [batches[i::clients] for i in range(clients)]
    backends = backend_cpu(url)
    server_cpu = cpu_seconds(server_pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(send, share) for share in shares]:
            future.result()
    elapsed = time.perf_counter() - started
    return (
        elapsed,
        cpu_seconds(server_pid) - server_cpu,
        time.process_time() - client_cpu,
        spent(backends, backend_cpu(url)),
    )


def raw_insert(
    url: str, workspace_id: int, events: list[dict[str, Any]], ids: dict[str, int]
) -> tuple[float, float, float]:
    """Insert equivalent rows; return wall seconds, this process's and the backend's CPU."""
    engine = build_engine(url)
    now = datetime.now(UTC)
    rows = [
        {
            "workspace_id": workspace_id,
            "event_key": f"raw-{e['id']}",
            "customer_id": ids[e["customer"]["mobile"]],
            "event_type": e["type"],
            "occurred_at": datetime.fromisoformat(e["occurred_at"]),
            "properties": e["properties"],
            "received_at": now,
        }
        for e in events
    ]
    backends = backend_cpu(url)
    cpu = time.process_time()
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        with engine.begin() as connection:
            connection.execute(insert(Event), rows[start : start + BATCH])
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    db_cpu = spent(backends, backend_cpu(url))
    engine.dispose()
    return elapsed, cpu, db_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=f"sqlite:///{DATA_DIR / 'ingest.db'}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    url = args.database_url or DEFAULT_DATABASE_URL
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    ensure_database(url)
    engine = build_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    port = free_port()
    server = start_server(url, port)
    print(
        f"event ingest on {database_label(url)}: {args.events:,} events in batches of {BATCH}, "
        f"{args.clients} client(s), {args.customers:,} customers"
    )
    runs: list[Run] = []
    try:
        for run in range(args.runs):
            prepared = prepare_workspace(url, args.customers)
            events = make_events(prepared.mobiles, args.events, seed=run)
            # The second inserts into tables the first has grown: they take turns.
            http_first = run % 2 == 0
            if not http_first:
                raw_s, raw_cpu, raw_db_cpu = raw_insert(
                    url, prepared.workspace_id, events, prepared.customer_of
                )
            http_s, server_cpu, client_cpu, http_db_cpu = post_all(
                url, server.pid, port, prepared.api_key, events, args.clients
            )
            if http_first:
                raw_s, raw_cpu, raw_db_cpu = raw_insert(
                    url, prepared.workspace_id, events, prepared.customer_of
                )
            per_event = 1e6 / args.events
            runs.append(
                Run(
                    args.events / http_s,
                    args.events / raw_s,
                    server_cpu * per_event,
                    client_cpu * per_event,
                    http_db_cpu * per_event,
                    raw_cpu * per_event,
                    raw_db_cpu * per_event,
                )
            )
            r = runs[-1]
            print(
                f"  run {run + 1} ({'HTTP' if http_first else 'raw'} first): "
                f"HTTP {r.http_rate:,.0f} events/s, "
                f"raw insert {r.raw_rate:,.0f} rows/s, ratio {r.ratio:.2f}; CPU µs/event: "
                f"server {r.server_us:.0f}, clients {r.client_us:.0f}, "
                f"database {r.http_db_us:.0f}; raw {r.raw_us:.0f} + database {r.raw_db_us:.0f}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)

    def mid(part: str) -> float:
        return median([getattr(r, part) for r in runs])

    print(
        f"median over {args.runs} runs: HTTP {mid('http_rate'):,.0f} events/s (target 5,000), "
        f"raw {mid('raw_rate'):,.0f} rows/s, ratio {mid('ratio'):.2f} (target 0.5); "
        f"CPU µs/event: server {mid('server_us'):.0f}, clients {mid('client_us'):.0f}, "
        f"database {mid('http_db_us'):.0f}; raw {mid('raw_us'):.0f} + database "
        f"{mid('raw_db_us'):.0f}; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
