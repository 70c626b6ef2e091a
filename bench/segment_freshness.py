"""Segment freshness: from an event arriving to the dynamic segment's membership changing.

    .venv/bin/python -m bench.segment_freshness [--database-url URL] [--seconds 20] [--rate 1000]

Makes a fresh workspace with 20,000 customers (or, with `--size M`, uses the workspace of
bench/generate.py at that size and 20,000 of its customers) and a dynamic segment "did
bench_signal_<run> within 1 day", starts `siyu serve` (no worker) and one `siyu worker` in
subprocesses, waits until the worker has run the segments' queued builds, then posts
`--rate` events per second for `--seconds` through POST /api/v1/events/batch: page views
of random customers, and in every batch one bench_signal_<run> of a customer who never
sent one (a signal type of its own per run, so a run repeated the same day starts from an
empty segment). Latency = the time the segment
recorded that customer as entered (segment_change.changed_at) minus the time its batch
was posted.
Prints p50, p95 and max, and the event rate reached. Target: p95 ≤ 5 s at 1,000 events/s.

In a generated workspace the segment is not alone: bench/segments.py's Q4 (tags, order
windows, event counters, opt-outs, WeCom friends) is created beside it as a dynamic
segment, so every batch also re-evaluates its changed customers against Q4.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select, text

from bench import segments as segments_bench
from bench.common import (
    DEFAULT_DATABASE_URL,
    Dataset,
    database_label,
    free_port,
    log_file,
    median,
    percentile,
    start_server,
)
from bench.ingest_events import Prepared, prepare_workspace
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.models import Job, SegmentChange
from siyu.segments import service
from siyu.segments.schemas import SegmentIn
from siyu.workspace.principal import Principal

BATCH = 250


def start_worker(url: str) -> subprocess.Popen[bytes]:
    siyu = Path(sys.executable).with_name("siyu")
    env = {**os.environ, "SIYU_DATABASE_URL": url, "SIYU_WORKER_POLL_SECONDS": "0.2"}
    with log_file("worker") as log:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [str(siyu), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _wait_for_entries(engine: Engine, segment_id: int, expected: int) -> dict[int, float]:
    """customer id -> when the segment recorded it as entered (unix seconds)."""
    deadline = time.time() + 120
    entered: dict[int, float] = {}
    while time.time() < deadline and len(entered) < expected:
        with unit_of_work(engine, write=False) as session:
            rows = session.execute(
                select(SegmentChange.customer_id, SegmentChange.changed_at).where(
                    SegmentChange.segment_id == segment_id, SegmentChange.change == "entered"
                )
            ).all()
        entered = {customer: at.timestamp() for customer, at in rows}
        time.sleep(0.5)
    return entered


def _settle(engine: Engine) -> float:
    """Wait until the worker has run the segment builds queued when the segments were
    made (the clock starts once the segments are built); returns the seconds it took."""
    started = time.time()
    while time.time() < started + 300:
        with unit_of_work(engine, write=False) as session:
            due = session.scalar(
                select(func.count()).where(
                    Job.name == service.BUILD_JOB, Job.status.in_(("queued", "running"))
                )
            )
        if not due:
            break
        time.sleep(0.2)
    return time.time() - started


def _generated(engine: Engine, size: str, url: str) -> Prepared:
    """20,000 customers with mobiles from the generated workspace of this size."""
    dataset = Dataset.load(url, size)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT i.value, i.customer_id FROM identity i JOIN customer c"
                " ON c.id = i.customer_id AND c.merged_into_id IS NULL"
                " WHERE i.workspace_id = :w AND i.kind = 'mobile' ORDER BY i.id LIMIT 20000"
            ),
            {"w": dataset.workspace_id},
        ).all()
    return Prepared(dataset.workspace_id, dataset.api_key, dict(rows))


def _setup(engine: Engine, url: str, size: str | None, signal: str) -> tuple[Prepared, list[int]]:
    """The workspace with its customers, and the segments' ids (the signal's first); their
    builds are queued, for the worker to run before the clock starts."""
    made = []
    if size:
        prepared = _generated(engine, size, url)
        q4 = segments_bench.q4_rule(engine, prepared.workspace_id)
        with unit_of_work(engine) as session:
            beside = service.create_segment(
                session,
                Principal.system(prepared.workspace_id),
                SegmentIn(name=f"bench-fresh-q4-{uuid.uuid4().hex[:6]}", rule=q4),
            )
        made.append(beside.id)
    else:
        prepared = prepare_workspace(url, 20_000)
    principal = Principal.system(prepared.workspace_id)
    with unit_of_work(engine) as session:
        segment = service.create_segment(
            session,
            principal,
            SegmentIn(
                name=f"bench-fresh-{uuid.uuid4().hex[:6]}",
                rule={"type": "event", "event_type": signal, "op": "did", "within_days": 1},
            ),
        )
    return prepared, [segment.id, *made]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--size", help="use bench/generate.py's workspace of this size")
    args = parser.parse_args()
    engine = build_engine(args.database_url)
    migrate.upgrade(engine)
    run = uuid.uuid4().hex[:6]
    signal_type = f"bench_signal_{run}"
    prepared, segment_ids = _setup(engine, args.database_url, args.size, signal_type)

    port = free_port()
    server = start_server(args.database_url, port)
    worker = start_worker(args.database_url)
    settled = _settle(engine)
    mobiles = prepared.mobiles
    sent_at: dict[int, float] = {}
    lock = threading.Lock()
    batches_per_second = max(1, args.rate // BATCH)
    try:
        started = time.time()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {prepared.api_key}"},
            timeout=60,
        ) as client:
            n = 0
            for second in range(args.seconds):
                tick = started + second
                for b in range(batches_per_second):
                    signal = mobiles[(second * batches_per_second + b) % len(mobiles)]
                    now = datetime.now(UTC).isoformat()
                    events = [
                        {
                            "id": f"f-{run}-{n + i}",
                            "type": "page_view",
                            "occurred_at": now,
                            "customer": {"mobile": mobiles[(n + i) * 7 % len(mobiles)]},
                            "properties": {"page": "/home"},
                        }
                        for i in range(BATCH - 1)
                    ]
                    events.append(
                        {
                            "id": f"s-{run}-{n}",
                            "type": signal_type,
                            "occurred_at": now,
                            "customer": {"mobile": signal},
                        }
                    )
                    n += BATCH
                    posted = time.time()
                    client.post("/api/v1/events/batch", json={"events": events}).raise_for_status()
                    with lock:
                        sent_at.setdefault(prepared.customer_of[signal], posted)
                time.sleep(max(0.0, tick + 1 - time.time()))
            sending = time.time() - started
        entered = _wait_for_entries(engine, segment_ids[0], len(sent_at))
    finally:
        server.terminate()
        worker.terminate()
        server.wait(30)
        worker.wait(30)
        segments_bench.cleanup(engine, segment_ids)
    latencies = [entered[c] - sent_at[c] for c in sent_at if c in entered]
    missing = len(sent_at) - len(latencies)
    print(
        f"segment freshness on {database_label(args.database_url)}: {n:,} events in"
        f" {sending:.1f} s = {n / sending:,.0f} events/s; {len(sent_at)} signals;"
        f" the worker's queued segment builds took {settled:.1f} s before the clock started"
    )
    print(
        f"event → membership: p50 {median(latencies):.2f} s, p95 {percentile(latencies, 95):.2f} s,"
        f" max {max(latencies):.2f} s; {missing} never entered (target p95 ≤ 5 s)"
    )


if __name__ == "__main__":
    main()
