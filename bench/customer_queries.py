"""Customer list (search, filter, page) and customer 360 latency at a generated size.

    .venv/bin/python -m bench.customer_queries --size S [--database-url URL] [--runs 3]

Needs the dataset of bench/generate.py for the same size and database. Starts
`siyu serve` (no worker) in a subprocess on a free localhost port and times each request
end to end with httpx, one at a time, with the dataset's admin API key:

| query          | request                                                                |
|----------------|------------------------------------------------------------------------|
| list           | GET /customers?limit=50 (newest first)                                 |
| page           | the next 5 pages of that list, by `next_cursor`                         |
| search name    | GET /customers?q=<name prefix of a random customer>                     |
| search last4   | GET /customers?q=<last 4 digits of a random customer's mobile>          |
| search mobile  | GET /customers?q=<a random customer's full mobile>                      |
| filter tag     | GET /customers?tag_ids=<a random tag>&sort=-total_paid_fen              |
| filter mix     | GET /customers?stage=loyal&source=天猫&last_order_from=<180 days ago>   |
| customer 360   | GET /customers/<random id>                                              |

Prints p50 and p95 per query, the median of each over `--runs` runs. Target p95 <= 100 ms.
"""

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from bench.common import (
    DEFAULT_DATABASE_URL,
    Dataset,
    database_label,
    free_port,
    median,
    percentile,
    start_server,
)
from siyu.db.engine import build_engine
from siyu.models import Customer, Tag

SAMPLE_CUSTOMERS = 2000


def sample(
    dataset: Dataset, seed: int
) -> tuple[list[tuple[int, str | None, str | None]], list[int]]:
    """Random customers (id, name, mobile) and tag ids of the dataset's workspace."""
    engine = build_engine(dataset.database_url)
    rng = random.Random(seed)
    ws = dataset.workspace_id
    with engine.connect() as connection:
        bounds = connection.execute(
            select(Customer.id).where(Customer.workspace_id == ws).order_by(Customer.id).limit(1)
        ).scalar_one()
        ids = sorted(
            rng.randrange(bounds, bounds + dataset.customers) for _ in range(SAMPLE_CUSTOMERS)
        )
        customers = [
            (row.id, row.name, row.mobile)
            for row in connection.execute(
                select(Customer.id, Customer.name, Customer.mobile).where(
                    Customer.workspace_id == ws, Customer.id.in_(ids)
                )
            )
        ]
        tags = list(connection.scalars(select(Tag.id).where(Tag.workspace_id == ws)))
    engine.dispose()
    return customers, tags


Query = Callable[[httpx.Client, random.Random], list[float]]


def timed(client: httpx.Client, path: str, params: Any = None) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed * 1000, response.json()


def queries(
    customers: list[tuple[int, str | None, str | None]], tags: list[int]
) -> dict[str, Query]:
    named = [c for c in customers if c[1]]
    with_mobile = [c for c in customers if c[2]]
    half_year_ago = (datetime.now(UTC) - timedelta(days=180)).isoformat()

    def list_first(client: httpx.Client, _rng: random.Random) -> list[float]:
        return [timed(client, "/api/v1/customers", {"limit": 50})[0]]

    def pages(client: httpx.Client, _rng: random.Random) -> list[float]:
        _, body = timed(client, "/api/v1/customers", {"limit": 50})
        took = []
        for _ in range(5):
            if not body.get("next_cursor"):
                break
            ms, body = timed(
                client, "/api/v1/customers", {"limit": 50, "cursor": body["next_cursor"]}
            )
            took.append(ms)
        return took

    def search_name(client: httpx.Client, rng: random.Random) -> list[float]:
        name = rng.choice(named)[1] or ""
        return [timed(client, "/api/v1/customers", {"q": name[:2], "limit": 50})[0]]

    def search_last4(client: httpx.Client, rng: random.Random) -> list[float]:
        mobile = rng.choice(with_mobile)[2] or ""
        return [timed(client, "/api/v1/customers", {"q": mobile[-4:], "limit": 50})[0]]

    def search_mobile(client: httpx.Client, rng: random.Random) -> list[float]:
        mobile = rng.choice(with_mobile)[2] or ""
        return [timed(client, "/api/v1/customers", {"q": mobile, "limit": 50})[0]]

    def filter_tag(client: httpx.Client, rng: random.Random) -> list[float]:
        params = {"tag_ids": rng.choice(tags), "sort": "-total_paid_fen", "limit": 50}
        return [timed(client, "/api/v1/customers", params)[0]]

    def filter_mix(client: httpx.Client, _rng: random.Random) -> list[float]:
        params = {"stage": "loyal", "source": "天猫", "last_order_from": half_year_ago, "limit": 50}
        return [timed(client, "/api/v1/customers", params)[0]]

    def customer_360(client: httpx.Client, rng: random.Random) -> list[float]:
        return [timed(client, f"/api/v1/customers/{rng.choice(customers)[0]}")[0]]

    return {
        "list": list_first,
        "page": pages,
        "search name": search_name,
        "search last4": search_last4,
        "search mobile": search_mobile,
        "filter tag": filter_tag,
        "filter mix": filter_mix,
        "customer 360": customer_360,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50, help="per query and run")
    args = parser.parse_args()
    dataset = Dataset.load(args.database_url, args.size)
    customers, tags = sample(dataset, seed=1)
    port = free_port()
    server = start_server(args.database_url, port)
    print(
        f"customer queries on {database_label(args.database_url)}, size {args.size} "
        f"({dataset.customers:,} customers); {args.requests} requests per query and run"
    )
    results: dict[str, dict[str, list[float]]] = {}
    try:
        headers = {"Authorization": f"Bearer {dataset.api_key}"}
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60
        ) as client:
            all_queries = queries(customers, tags)
            for query in all_queries.values():
                query(client, random.Random(0))  # warm up caches and connections
            for run in range(args.runs):
                rng = random.Random(100 + run)
                for name, query in all_queries.items():
                    took = [ms for _ in range(args.requests) for ms in query(client, rng)]
                    stats = results.setdefault(name, {"p50": [], "p95": []})
                    stats["p50"].append(percentile(took, 50))
                    stats["p95"].append(percentile(took, 95))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"{'query':<15} {'p50 ms':>8} {'p95 ms':>8}"
        f"   (median over {args.runs} runs; target p95 <= 100)"
    )
    for name, stats in results.items():
        p95 = median(stats["p95"])
        flag = "" if p95 <= 100 else "  over target"
        print(f"{name:<15} {median(stats['p50']):>8.1f} {p95:>8.1f}{flag}")


if __name__ == "__main__":
    main()
