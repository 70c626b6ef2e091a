"""Segment counts and builds at a generated size, checked against DuckDB over the same data.

    .venv/bin/python -m bench.segments --size M [--database-url URL] [--runs 20]

Needs the dataset of bench/generate.py and its features (`siyu features rebuild
--workspace bench-<size> --database-url URL`). The questions:

| query | rule |
|-------|------|
| Q1 | has the two most used tags, and not the third |
| Q2 | last order within 30 days, ≥ 3 orders and ≥ ¥1,000 paid within 365 days |
| Q3 | viewed products of the most viewed category ≥ 3 times within 30 days |
| Q4 | Q1 and (Q2 or Q3), not opted out of any channel, still a WeCom friend |
| Q5 | in Q4's stored segment, and lives in 上海市 or 杭州市 |

For each: Siyu's count latency (median and p95 over `--runs`, warm), the membership build
time (first build of a new segment, then a rebuild: warm), and the same question as hand-written
SQL over the raw tables (orders and events, not Siyu's features or counters) in DuckDB,
loaded from the same database in the same run: its count latency and whether both answers
list exactly the same customers. Windows are calendar days in the workspace time zone, as
Siyu defines them, asked as of `--as-of` (default: the generated data's end, 2026-11-01;
the order windows are recomputed as of then first). DuckDB reads CSV copies written to
bench/data/duckdb-<size>-<db>/.

With `--cold` (root only) each first build starts cold: the connection pool is discarded and
the kernel's page cache dropped (`/proc/sys/vm/drop_caches`), so the database reads its
tables from disk again, apart from what PostgreSQL keeps in its own shared buffers.
"""

import argparse
import csv
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bench import generate
from bench.common import (
    DATA_DIR,
    DEFAULT_DATABASE_URL,
    Dataset,
    database_label,
    median,
    percentile,
    url_tag,
)
from siyu.analytics import features
from siyu.db.engine import build_engine
from siyu.db.session import session_factory, unit_of_work
from siyu.models import CustomerFeature
from siyu.segments import evaluation, membership, service
from siyu.segments.compiler import count_query
from siyu.segments.context import CompileContext
from siyu.segments.rules import parse_rule
from siyu.segments.schemas import SegmentIn
from siyu.workspace.principal import Principal

COUNTED = ("paid", "shipped", "completed")
PAID = ("paid", "shipped", "completed", "refunded")


def _rows(engine: Engine, sql: str, params: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).execute(text(sql), params)
        yield from result


def _export(engine: Engine, folder: Path, workspace_id: int, since: datetime) -> None:
    """CSV copies of the raw rows the questions read (events: the last 35 days)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "customer": "SELECT id, merged_into_id, city FROM customer WHERE workspace_id = :w",
        "customer_tag": "SELECT customer_id, tag_id FROM customer_tag WHERE workspace_id = :w",
        "customer_order": "SELECT customer_id, status, paid_fen, refunded_fen, ordered_at"
        " FROM customer_order WHERE workspace_id = :w AND customer_id IS NOT NULL",
        "event": "SELECT customer_id, event_type, occurred_at, properties FROM event"
        " WHERE workspace_id = :w AND occurred_at >= :since",
        "follow_relation": "SELECT customer_id, status FROM follow_relation"
        " WHERE workspace_id = :w",
        "opt_out": "SELECT customer_id, channel FROM opt_out WHERE workspace_id = :w",
    }
    for name, sql in tables.items():
        with (folder / f"{name}.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            for row in _rows(engine, sql, {"w": workspace_id, "since": since}):
                writer.writerow([_cell(v) for v in row])


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _duckdb(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    columns = {
        "customer": "id BIGINT, merged_into_id BIGINT, city VARCHAR",
        "customer_tag": "customer_id BIGINT, tag_id BIGINT",
        "customer_order": "customer_id BIGINT, status VARCHAR, paid_fen BIGINT,"
        " refunded_fen BIGINT, ordered_at TIMESTAMP",
        "event": "customer_id BIGINT, event_type VARCHAR, occurred_at TIMESTAMP,"
        " properties VARCHAR",
        "follow_relation": "customer_id BIGINT, status VARCHAR",
        "opt_out": "customer_id BIGINT, channel VARCHAR",
    }
    for name, schema in columns.items():
        con.execute(f"CREATE TABLE {name} ({schema})")
        path = folder / f"{name}.csv"
        if path.stat().st_size == 0:
            continue
        spec = ", ".join(f"'{c.split()[0]}': '{c.split()[1]}'" for c in schema.split(", "))
        con.execute(
            f"INSERT INTO {name} SELECT * FROM read_csv('{path}', header=false, columns={{{spec}}})"
        )
    return con


def _duck_queries(p: dict[str, Any]) -> dict[str, str]:
    live = "SELECT id FROM customer WHERE merged_into_id IS NULL"
    counted = ", ".join(f"'{s}'" for s in COUNTED)
    s30, s365 = f"TIMESTAMP '{p['s30']}'", f"TIMESTAMP '{p['s365']}'"
    paid = ", ".join(f"'{s}'" for s in PAID)
    q1 = (
        f"SELECT customer_id FROM customer_tag WHERE tag_id = {p['tag_a']}"
        f" INTERSECT SELECT customer_id FROM customer_tag WHERE tag_id = {p['tag_b']}"
        f" EXCEPT SELECT customer_id FROM customer_tag WHERE tag_id = {p['tag_c']}"
    )
    q2 = (
        "SELECT customer_id FROM customer_order"
        f" WHERE status IN ({paid}) GROUP BY customer_id HAVING"
        f" max(CASE WHEN status IN ({counted}) THEN ordered_at END) >= {s30}"
        f" AND count(CASE WHEN status IN ({counted}) AND ordered_at >= {s365} THEN 1 END) >= 3"
        f" AND sum(CASE WHEN ordered_at >= {s365} THEN paid_fen - refunded_fen ELSE 0 END)"
        " >= 100000"
    )
    q3 = (
        "SELECT customer_id FROM event WHERE event_type = 'product_view'"
        f" AND occurred_at >= TIMESTAMP '{p['s30']}'"
        f" AND json_extract_string(properties, '$.category') = '{p['category']}'"
        " GROUP BY customer_id HAVING count(*) >= 3"
    )
    q4 = (
        f"SELECT * FROM ({q1}) INTERSECT SELECT * FROM (({q2}) UNION ({q3}))"
        " INTERSECT SELECT customer_id FROM follow_relation WHERE status = 'active'"
        " EXCEPT SELECT customer_id FROM opt_out"
    )
    cities = "SELECT id FROM customer WHERE city IN ('上海市', '杭州市')"
    q5 = f"SELECT * FROM ({q4}) INTERSECT {cities}"
    return {
        name: f"SELECT id FROM ({live}) WHERE id IN ({q})"
        for name, q in (("Q1", q1), ("Q2", q2), ("Q3", q3), ("Q4", q4), ("Q5", q5))
    }


def _rules(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    q1 = {
        "all": [
            {"type": "tag", "op": "has_all", "tag_ids": [p["tag_a"], p["tag_b"]]},
            {"type": "tag", "op": "has_none", "tag_ids": [p["tag_c"]]},
        ]
    }
    q2 = {
        "all": [
            {"type": "profile", "field": "last_order_at", "op": "within_last_days", "value": 30},
            {"type": "orders", "metric": "count", "op": "gte", "value": 3, "within_days": 365},
            {
                "type": "orders",
                "metric": "sum_paid",
                "op": "gte",
                "value": 100000,
                "within_days": 365,
            },
        ]
    }
    q3 = {
        "type": "event",
        "event_type": "product_view",
        "op": "at_least",
        "count": 3,
        "within_days": 30,
        "where": [{"property": "category", "op": "eq", "value": p["category"]}],
    }
    q4 = {
        "all": [
            q1,
            {"any": [q2, q3]},
            {"type": "subscription", "op": "not_opted_out", "channel": "any"},
            {"type": "follow", "op": "has", "status": "active"},
        ]
    }
    return {"Q1": q1, "Q2": q2, "Q3": q3, "Q4": q4}


def q4_rule(engine: Engine, workspace_id: int) -> dict[str, Any]:
    """Q4 over this workspace's data (bench/segment_freshness.py keeps it beside its own)."""
    return _rules(_parameters(engine, workspace_id))["Q4"]


def _parameters(engine: Engine, workspace_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        tags = (
            session.execute(
                text(
                    "SELECT id FROM tag WHERE workspace_id = :w"
                    " ORDER BY customer_count DESC, id LIMIT 3"
                ),
                {"w": workspace_id},
            )
            .scalars()
            .all()
        )
        category = session.execute(
            text(
                "SELECT category FROM product WHERE workspace_id = :w AND category IS NOT NULL"
                " GROUP BY category ORDER BY count(*) DESC, category LIMIT 1"
            ),
            {"w": workspace_id},
        ).scalar_one()
    return {"tag_a": tags[0], "tag_b": tags[1], "tag_c": tags[2], "category": category}


def _timed(run: Any, runs: int) -> list[float]:
    run()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--cold", action="store_true", help="drop the page cache before first builds"
    )
    parser.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=generate.NOW,
        help="the moment the questions are asked (default: the end of the generated data)",
    )
    args = parser.parse_args()
    dataset = Dataset.load(args.database_url, args.size)
    engine = build_engine(args.database_url)
    workspace_id = dataset.workspace_id
    with Session(engine) as session:
        built = select(func.count()).where(CustomerFeature.workspace_id == workspace_id)
        if not session.scalar(built):
            raise SystemExit(
                f"no features: run `siyu features rebuild --workspace {dataset.workspace_slug}"
                f" --event-type product_view --database-url {args.database_url}`"
            )
        ctx = service.context(session, workspace_id, args.as_of)
    _features_as_of(engine, ctx)
    params = _parameters(engine, workspace_id)
    params["s30"] = ctx.window_start(30).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    params["s365"] = ctx.window_start(365).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    rules = _rules(params)
    stamp = int(time.time())

    builds: dict[str, tuple[float, float]] = {}
    segment_ids: dict[str, int] = {}
    for name in ("Q1", "Q2", "Q3", "Q4"):
        made = _build(engine, ctx, f"bench-{name}-{stamp}", rules[name], cold=args.cold)
        segment_ids[name], builds[name] = made
    rules["Q5"] = {
        "all": [
            {"type": "segment", "op": "in", "segment_id": segment_ids["Q4"]},
            {"type": "profile", "field": "city", "op": "in", "value": ["上海市", "杭州市"]},
        ]
    }
    segment_ids["Q5"], builds["Q5"] = _build(
        engine, ctx, f"bench-Q5-{stamp}", rules["Q5"], cold=args.cold
    )

    folder = DATA_DIR / f"duckdb-{args.size}-{url_tag(args.database_url)}"
    started = time.perf_counter()
    _export(engine, folder, workspace_id, ctx.window_start(35))
    con = _duckdb(folder)
    load_s = time.perf_counter() - started
    duck = _duck_queries(params)

    print(
        f"segments at {args.size} on {database_label(args.database_url)}:"
        f" {dataset.customers:,} customers; DuckDB {duckdb.__version__} loaded in {load_s:.0f} s"
    )
    print(
        f"parameters: tags {params['tag_a']} and {params['tag_b']}, not {params['tag_c']};"
        f" category {params['category']}; as of {ctx.now:%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"| query | members | Siyu count p50 | p95 | first build{' (cold)' if args.cold else ''}"
        " | rebuild"
        " | DuckDB count p50 | p95 | ratio p50 | same customers | one query p50 | p95 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in ("Q1", "Q2", "Q3", "Q4", "Q5"):
        print(_row(engine, con, ctx, rules[name], duck[name], builds[name], args.runs, name))
    cleanup(engine, segment_ids.values())


def _row(
    engine: Engine,
    con: duckdb.DuckDBPyConnection,
    ctx: CompileContext,
    rule: dict[str, Any],
    sql: str,
    build: tuple[float, float],
    runs: int,
    name: str,
) -> str:
    node = parse_rule(rule)
    with session_factory(engine, write=False)() as session:
        siyu_ids = set(evaluation.matching_ids(session, node, ctx))

    def siyu_count() -> None:
        with session_factory(engine, write=False)() as session:
            evaluation.counted(session, node, ctx)

    def one_query_count() -> None:  # the baseline: the whole rule as one query
        with session_factory(engine, write=False)() as session:
            session.scalar(count_query(node, ctx))

    def duck_count() -> None:
        con.execute(f"SELECT count(*) FROM ({sql})").fetchone()

    siyu = _timed(siyu_count, runs)
    one = _timed(one_query_count, runs)
    duck = _timed(duck_count, runs)
    duck_ids = {row[0] for row in con.execute(sql).fetchall()}
    same = "yes" if siyu_ids == duck_ids else f"NO ({len(siyu_ids ^ duck_ids)} differ)"
    return (
        f"| {name} | {len(siyu_ids):,} | {median(siyu):.0f} ms | {percentile(siyu, 95):.0f} ms"
        f" | {build[0]:.2f} s | {build[1]:.2f} s | {median(duck):.0f} ms"
        f" | {percentile(duck, 95):.0f} ms | {median(siyu) / max(median(duck), 0.001):.2f}"
        f" | {same} | {median(one):.0f} ms | {percentile(one, 95):.0f} ms |"
    )


def _features_as_of(engine: Engine, ctx: CompileContext) -> None:
    """Order windows as of the questions' moment (the generator writes rows, not features)."""
    with Session(engine) as session:
        computed = session.scalar(
            select(func.max(CustomerFeature.computed_at)).where(
                CustomerFeature.workspace_id == ctx.workspace_id
            )
        )
        if computed == ctx.now:
            return
        ranges = features.id_ranges(session, ctx.workspace_id)
    started = time.perf_counter()
    for first, last in ranges:
        with unit_of_work(engine) as session:
            features.refresh_range(session, ctx, first, last)
    took = time.perf_counter() - started
    print(f"order windows recomputed as of {ctx.now:%Y-%m-%d} in {took:.0f} s")


def _build(
    engine: Engine, ctx: CompileContext, name: str, rule: dict[str, Any], *, cold: bool
) -> tuple[int, tuple[float, float]]:
    """Create the segment and build it twice: (first build, rebuild) wall times."""
    principal = Principal.system(ctx.workspace_id)
    with unit_of_work(engine) as session:
        segment_id = service.create_segment(session, principal, SegmentIn(name=name, rule=rule)).id
    times = []
    for attempt in range(2):
        if cold and attempt == 0:
            _drop_caches(engine)
        started = time.perf_counter()
        # as the build job does: evaluate in a read-only session, then write the difference
        with session_factory(engine, write=False)() as reader:
            answered = membership.answer(
                reader, service.segment_row(reader, ctx.workspace_id, segment_id), ctx
            )
        with unit_of_work(engine) as session:
            segment = service.segment_row(session, ctx.workspace_id, segment_id)
            membership.build(session, segment, ctx, answered=answered)
        times.append(time.perf_counter() - started)
    return segment_id, (times[0], times[1])


def _drop_caches(engine: Engine) -> None:
    engine.dispose()
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def cleanup(engine: Engine, segment_ids: Any) -> None:
    with unit_of_work(engine) as session:
        for segment_id in sorted(segment_ids, reverse=True):
            session.execute(text("DELETE FROM segment WHERE id = :i"), {"i": segment_id})


if __name__ == "__main__":
    main()
