"""WeCom broadcasts against the simulator: calls/s as a fraction of the rate limit.

    .venv/bin/python -m bench.wecom_broadcast [--database-url URL] [--runs 1] [--staff 300]
                                              [--contacts 3000] [--broadcasts 2] [--workers 2]
                                              [--rate 38.9] [--burst 1]

Each run starts a fresh database and a fresh simulated corp (`--staff` members,
`--contacts` customers) served over real HTTP on 127.0.0.1, syncs it, and sends
`--broadcasts` WeCom 1:1 broadcasts to all customers at once. `--workers` worker processes
run the jobs, as `siyu worker` does, all taking tokens from the database rate limiter they
share: `--rate` calls/s per WeCom API (default: Siyu's sustained limit, 140,000 an hour) with
bursts of `--burst` (1: no burst, so the figure is the sustained rate). The simulator
enforces the same limit per sliding minute and answers 45009 above it.

Phases: creating the staff's tasks (`add_msg_template`, one per staff member and
broadcast), then, after every simulated staff member confirmed, one poll of each broadcast
(`get_groupmsg_task` and `get_groupmsg_send_result` per task). For each API it prints the
calls, the sustained calls/s over the phase (after the first `--burst` calls) as a fraction
of `--rate` (target >= 0.9), the busiest 5-second window as a fraction (the bucket allows
1 + burst/(5·rate), give or take a call of HTTP jitter), and the calls the simulator refused
with 45009 for going over the same limit per sliding minute (target 0). The rate of one
worker is bound by its CPU time per task; on a busy machine add workers.
"""

import argparse
import math
import multiprocessing
import os
import time
from dataclasses import dataclass

from sqlalchemy import select, text

from bench.common import DATA_DIR, database_label, ensure_database, median, recreate_database
from siyu.connectors.wecom import sync_jobs, transport
from siyu.connectors.wecom.connection import connect
from siyu.connectors.wecom_sim import SimConfig, SimServer
from siyu.connectors.wecom_sim.task_actions import confirm_mass_message
from siyu.db.base import Base
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.kit.ratelimit import Limit
from siyu.messaging import service as messaging_service
from siyu.messaging.schemas import BroadcastIn, Channel, Content
from siyu.models import Customer, WecomBroadcastTask
from siyu.segments import service as segments_service
from siyu.segments import static_lists
from siyu.segments.schemas import SegmentIn
from siyu.worker.queue import enqueue
from siyu.worker.runner import Runner
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

DEFAULT_URL = f"sqlite:///{DATA_DIR / 'wecom_broadcast.db'}"
WINDOW = 5.0
CREATE = ("externalcontact/add_msg_template",)
POLL = ("externalcontact/get_groupmsg_task", "externalcontact/get_groupmsg_send_result")


@dataclass
class PathFigure:
    path: str
    calls: int
    per_second: float
    peak_window: int


def _work(url: str, rate: float, burst: float) -> None:
    """One worker process: every due job, with the bench's limit for every WeCom API.

    The scheduled re-polls are pushed out of the way so each phase makes only its own calls.
    """
    os.environ["SIYU_BROADCAST_POLL_SECONDS"] = "3600"
    transport.DEFAULT_LIMIT = Limit(rate=rate, capacity=burst)
    engine = build_engine(url)
    Runner(engine, lease_seconds=300, lane=None).run_until_idle()
    engine.dispose()


def _run_workers(url: str, workers: int, rate: float, burst: float) -> None:
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_work, args=(url, rate, burst)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        assert process.exitcode == 0, f"a worker exited with {process.exitcode}"


def _figures(
    server: SimServer, paths: tuple[str, ...], since: float, burst: int
) -> list[PathFigure]:
    """Per API: calls since `since`, the sustained rate (after the first `burst` calls, which
    the bucket lets through at once) and the most calls in any WINDOW seconds."""
    with server.state.lock:
        times = {p: sorted(t for t in server.state.calls.get(p, []) if t >= since) for p in paths}
    figures = []
    for path, stamps in times.items():
        peak = 0
        start = 0
        for end, stamp in enumerate(stamps):
            while stamp - stamps[start] >= WINDOW:
                start += 1
            peak = max(peak, end - start + 1)
        steady = stamps[burst:] if len(stamps) > burst + 1 else stamps
        span = steady[-1] - steady[0] if len(steady) > 1 else 0.0
        per_second = (len(steady) - 1) / span if span else 0.0
        figures.append(PathFigure(path, len(stamps), per_second, peak))
    return figures


def _refused(server: SimServer) -> int:
    with server.state.lock:
        return server.state.total_calls - sum(len(t) for t in server.state.calls.values())


def _setup(url: str, server: SimServer, config: SimConfig, broadcasts: int) -> int:
    """A synced workspace and `broadcasts` WeCom broadcasts to all customers, sent."""
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        workspace = workspace_service.create_workspace(session, slug="bench", name="bench")
        connect(
            session,
            workspace_id=workspace.id,
            corp_id=server.state.corp_id,
            contact_secret=config.resolved_contact_secret,
            directory_secret=config.resolved_directory_secret,
            api_base_url=server.base_url,
        )
        sync_jobs.start_run(session, workspace.id, "full")
        workspace_id = workspace.id
    Runner(engine, lease_seconds=300, lane=None).run_until_idle()
    if engine.dialect.name == "postgresql":
        # plan the broadcasts with statistics of the synced tables (autovacuum may lag)
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    principal = Principal(workspace_id=workspace_id, role=Role.ADMIN)
    with unit_of_work(engine) as session:
        customer_ids = list(
            session.scalars(select(Customer.id).where(Customer.workspace_id == workspace_id))
        )
        segment = segments_service.create_segment(
            session, principal, SegmentIn(name="企微好友", kind="static")
        )
        static_lists.add_members(session, principal, segment.id, customer_ids)
        for index in range(broadcasts):
            broadcast = messaging_service.create(
                session,
                principal,
                BroadcastIn(
                    name=f"新品上市 {index + 1}",
                    channel=Channel.WECOM,
                    segment_id=segment.id,
                    content=Content(text=f"{{员工姓名}}为您留了明前龙井（第 {index + 1} 批）"),
                ),
            )
            messaging_service.send(session, principal, broadcast.id)
    engine.dispose()
    return workspace_id


def _confirm_all_and_poll(url: str, server: SimServer, workspace_id: int) -> int:
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        tasks = session.execute(
            select(
                WecomBroadcastTask.msgid, WecomBroadcastTask.userid, WecomBroadcastTask.broadcast_id
            )
        ).all()
        for msgid, userid, _ in tasks:
            confirm_mass_message(server.state, str(msgid), userid)
        for broadcast_id in sorted({b for _, _, b in tasks}):
            enqueue(
                session,
                messaging_service.POLL_JOB,
                {"broadcast_id": broadcast_id},
                workspace_id=workspace_id,
            )
    engine.dispose()
    return len(tasks)


def one_run(
    url: str, args: argparse.Namespace
) -> tuple[list[PathFigure], list[PathFigure], int, int]:
    recreate_database(url)
    engine = build_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    config = SimConfig(
        departments=10,
        staff=args.staff,
        contacts=args.contacts,
        rate_per_minute=math.ceil(args.rate * 60 + args.burst),
    )
    server = SimServer(config)
    server.start()
    started = time.time()
    try:
        workspace_id = _setup(url, server, config, args.broadcasts)
        refused_before = _refused(server)
        created_from = time.time()
        _run_workers(url, args.workers, args.rate, args.burst)
        polled_from = time.time()
        tasks = _confirm_all_and_poll(url, server, workspace_id)
        _run_workers(url, args.workers, args.rate, args.burst)
        polled = time.time() - polled_from
        print(
            f"  setup {created_from - started:.1f} s, creating tasks "
            f"{polled_from - created_from:.1f} s, polling {polled:.1f} s (worker start included)"
        )
        create = _figures(server, CREATE, created_from, int(args.burst))
        poll = _figures(server, POLL, polled_from, int(args.burst))
        refused = _refused(server) - refused_before
    finally:
        server.stop()
    return create, poll, tasks, refused


def _line(figure: PathFigure, rate: float) -> str:
    return (
        f"  {figure.path}: {figure.calls:,} calls, {figure.per_second:.1f}/s = "
        f"{figure.per_second / rate:.3f} of the limit; busiest {WINDOW:.0f} s "
        f"{figure.peak_window} calls = {figure.peak_window / (rate * WINDOW):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--staff", type=int, default=300)
    parser.add_argument("--contacts", type=int, default=3000)
    parser.add_argument("--broadcasts", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=round(transport.DEFAULT_LIMIT.rate, 1))
    parser.add_argument("--burst", type=float, default=10.0)
    args = parser.parse_args()
    ensure_database(args.database_url)
    print(
        f"WeCom broadcasts, {args.staff} staff, {args.contacts:,} contacts, "
        f"{args.broadcasts} broadcasts, {args.workers} worker processes, limit {args.rate}/s "
        f"per API (burst {args.burst:g}), {database_label(args.database_url)}"
    )
    fractions: list[float] = []
    for index in range(args.runs):
        create, poll, tasks, refused = one_run(args.database_url, args)
        print(f"run {index + 1}: {tasks:,} tasks, {refused} calls refused with 45009 (target 0)")
        print(" creating tasks:")
        for figure in create:
            print(_line(figure, args.rate))
        print(" polling after every staff member confirmed:")
        for figure in poll:
            print(_line(figure, args.rate))
        fractions += [f.per_second / args.rate for f in (*create, *poll)]
    print(f"median calls/s as a fraction of the limit: {median(fractions):.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
