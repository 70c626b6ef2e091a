"""Event ingest through the HTTP batch endpoint, against a raw bulk insert of the same rows.

    .venv/bin/python -m bench.ingest_events [--database-url URL] [--runs 3] [--events 50000]

Each run starts `siyu serve` (uvicorn, no worker) in a subprocess on a free localhost
port, creates a fresh workspace with an API key and `--customers` customers that have a
mobile identity, and posts `--events` events in batches of 1,000 to
POST /api/v1/events/batch with httpx (`--clients` concurrent clients). Each event names
its customer by mobile, so every batch goes through validation, type checks, duplicate
detection, OneID resolution and the insert, exactly as an integrator's would.

It then inserts the same number of equivalent rows (new keys, the same customers, types,
times and properties) with a plain SQLAlchemy Core executemany, 1,000 rows per
transaction, into the same database, and reports the ratio of the two rates.

Targets: >= 5,000 events/s through HTTP and a ratio >= 0.5.
"""

import argparse
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, text

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


def post_all(port: int, api_key: str, events: list[dict[str, Any]], clients: int) -> float:
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    headers = {"Authorization": f"Bearer {api_key}"}

    def send(client_batches: list[list[dict[str, Any]]]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for batch in client_batches:
                response = client.post(
                    "/api/v1/events/batch",
                    json={"events": batch, "unknown_customers": "reject"},
                    timeout=120,
                )
                response.raise_for_status()
                body = response.json()
                if body.get("accepted", len(batch)) != len(batch):
                    msg = f"not every event was accepted: {str(body)[:500]}"
                    raise RuntimeError(msg)

    shares = [batches[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(send, share) for share in shares]:
            future.result()
    return time.perf_counter() - started


def raw_insert(
    url: str, workspace_id: int, events: list[dict[str, Any]], ids: dict[str, int]
) -> float:
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
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        with engine.begin() as connection:
            connection.execute(insert(Event), rows[start : start + BATCH])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


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
    http_rates, raw_rates = [], []
    try:
        for run in range(args.runs):
            prepared = prepare_workspace(url, args.customers)
            events = make_events(prepared.mobiles, args.events, seed=run)
            http_s = post_all(port, prepared.api_key, events, args.clients)
            raw_s = raw_insert(url, prepared.workspace_id, events, prepared.customer_of)
            http_rates.append(args.events / http_s)
            raw_rates.append(args.events / raw_s)
            print(
                f"  run {run + 1}: HTTP {http_rates[-1]:,.0f} events/s, "
                f"raw insert {raw_rates[-1]:,.0f} rows/s, "
                f"ratio {http_rates[-1] / raw_rates[-1]:.2f}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    ratios = [h / r for h, r in zip(http_rates, raw_rates, strict=True)]
    print(
        f"median over {args.runs} runs: HTTP {median(http_rates):,.0f} events/s (target 5,000), "
        f"raw {median(raw_rates):,.0f} rows/s, ratio {median(ratios):.2f} (target 0.5)"
    )


if __name__ == "__main__":
    main()
