"""WeCom full sync against the simulator: wall time against what the rate limit allows.

    .venv/bin/python -m bench.wecom_sync [--database-url URL] [--runs 1] [--staff 200]
                                         [--contacts 100000] [--rate-per-minute 10000]
                                         [--simulator process|thread] [--delay-ms 0]

Each run starts a fresh database and a fresh simulated corp (`--staff` members, `--contacts`
external contacts, corp tags, 50 groups) served over real HTTP on 127.0.0.1, connects a
workspace and runs a full sync in this process exactly as `siyu wecom sync` does (commit
after every page, shared database rate limiter). The simulator runs in a process of its
own, as WeCom runs on its own servers; `--simulator thread` serves it from a thread of
this process instead (as the figures before 2026-12-07 were taken), where its work
competes with the sync's for one interpreter lock. `--delay-ms` makes the simulator wait
that long before every answer, as the round trip to WeCom's servers does. Prints the wall
time, the calls made per API, the minimum time WeCom's per-API limits (`--rate-per-minute`,
default WeCom's 10,000, and 150,000 an hour) allow for those calls, and wall / minimum
(target <= 1.25). At the default limits a sync of this size is not rate bound (the
minimum is 0 s: no API needs more than one minute's quota); lower `--rate-per-minute` to
measure how close the sync paces to a binding limit.
"""

import argparse
import asyncio
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bench.common import DATA_DIR, database_label, ensure_database, median, recreate_database
from siyu.connectors.wecom import sync
from siyu.connectors.wecom.clients import client_for
from siyu.connectors.wecom.connection import connect
from siyu.connectors.wecom_sim import SimConfig, SimServer
from siyu.db.base import Base
from siyu.db.engine import build_engine
from siyu.db.session import session_factory, unit_of_work
from siyu.kit.ratelimit import Window, WindowLimit
from siyu.workspace import service as workspace_service

DEFAULT_URL = f"sqlite:///{DATA_DIR / 'wecom_sync.db'}"
PER_HOUR = 150_000
PACED = (
    "externalcontact/batch/get_by_user",
    "externalcontact/groupchat/list",
    "externalcontact/groupchat/get",
    "externalcontact/get_corp_tag_list",
    "externalcontact/get_follow_user_list",
    "department/list",
    "user/list",
    "user/list_id",
)


def minimum_seconds(calls: dict[str, int], per_minute: int) -> float:
    """The least time a per-API sliding window of `per_minute` (and PER_HOUR) allows."""
    slowest = 0.0
    for count in calls.values():
        by_minute = (math.ceil(count / per_minute) - 1) * 60
        by_hour = (math.ceil(count / PER_HOUR) - 1) * 3600
        slowest = max(slowest, by_minute, by_hour)
    return slowest


class PhaseClock:
    """Seconds spent in each phase of a sync, read at its commits."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.since = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def start(self) -> None:
        self.since = time.perf_counter()

    def at(self, phase: str) -> None:
        if phase != self.phase:
            now = time.perf_counter()
            self.seconds[self.phase] = now - self.since
            self.phase, self.since = phase, now


@dataclass(frozen=True)
class Corp:
    base_url: str
    corp_id: str
    calls: Callable[[], dict[str, int]]


def _calls(server: SimServer) -> dict[str, int]:
    with server.state.lock:
        return {path: len(times) for path, times in server.state.calls.items()}


def _serve(config: SimConfig, control: Connection) -> None:
    """The simulator process: serves until told to stop, answering each "calls" request."""
    server = SimServer(config)
    server.start()
    control.send((server.base_url, server.state.corp_id))
    while control.recv() == "calls":
        control.send(_calls(server))
    server.stop()


@contextmanager
def simulated_corp(config: SimConfig, where: str) -> Iterator[Corp]:
    if where == "thread":
        server = SimServer(config)
        server.start()
        try:
            yield Corp(server.base_url, server.state.corp_id, lambda: _calls(server))
        finally:
            server.stop()
        return
    spawn = multiprocessing.get_context("spawn")
    control, remote = spawn.Pipe()
    process = spawn.Process(target=_serve, args=(config, remote))
    process.start()
    try:
        base_url, corp_id = control.recv()

        def calls() -> dict[str, int]:
            control.send("calls")
            counts: dict[str, int] = control.recv()
            return counts

        yield Corp(base_url, corp_id, calls)
    finally:
        control.send("stop")
        process.join(timeout=30)


def one_run(
    url: str, staff: int, contacts: int, per_minute: int, simulator: str, delay_ms: int = 0
) -> tuple[float, dict[str, int], dict[str, float]]:
    """Wall time, calls per API and the seconds spent in each phase of the sync."""
    recreate_database(url)
    engine = build_engine(url)
    Base.metadata.create_all(engine)
    config = SimConfig(
        departments=10,
        staff=staff,
        contacts=contacts,
        tag_groups=True,
        groups=50,
        rate_per_minute=per_minute,
        delay_ms=delay_ms,
    )
    with simulated_corp(config, simulator) as corp:
        with unit_of_work(engine) as session:
            workspace = workspace_service.create_workspace(session, slug="bench", name="bench")
            connect(
                session,
                workspace_id=workspace.id,
                corp_id=corp.corp_id,
                contact_secret=config.resolved_contact_secret,
                directory_secret=config.resolved_directory_secret,
                api_base_url=corp.base_url,
            )
            workspace_id = workspace.id
        session = session_factory(engine)()
        run = sync.new_run(session, workspace_id, "full")
        session.commit()

        clock = PhaseClock(run.phase)

        def commit() -> None:
            session.commit()
            clock.at(run.phase)

        async def work() -> None:
            async with client_for(session, workspace_id) as client:
                # The client's limits are the simulator's: `per_minute` a minute per API.
                limit = WindowLimit((Window(per_minute, 60), Window(PER_HOUR, 3600)))
                client.limits = dict.fromkeys(PACED, limit)
                await sync.Syncer(
                    session, run, client, commit=commit, progress=lambda _d, _t: None
                ).execute()

        started = time.perf_counter()
        clock.start()
        asyncio.run(work())
        wall = time.perf_counter() - started
        assert run.status == "succeeded", run.error
        session.close()
        calls = corp.calls()
    engine.dispose()
    return wall, calls, clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--staff", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rate-per-minute", type=int, default=10_000)
    parser.add_argument("--simulator", choices=("process", "thread"), default="process")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    ensure_database(args.database_url)
    print(
        f"WeCom full sync, {args.staff} staff, {args.contacts:,} contacts, "
        f"{args.rate_per_minute:,} calls/min per API, {database_label(args.database_url)}, "
        f"simulator in a {args.simulator}, answering after {args.delay_ms} ms"
    )
    walls = []
    for index in range(args.runs):
        wall, calls, phases = one_run(
            args.database_url,
            args.staff,
            args.contacts,
            args.rate_per_minute,
            args.simulator,
            args.delay_ms,
        )
        walls.append(wall)
        floor = minimum_seconds(calls, args.rate_per_minute)
        ratio = f"{wall / floor:.2f}" if floor else "n/a (not rate bound)"
        busiest = ", ".join(f"{p} {n}" for p, n in sorted(calls.items(), key=lambda i: -i[1])[:4])
        print(
            f"run {index + 1}: wall {wall:.1f} s, {sum(calls.values()):,} calls ({busiest}), "
            f"rate-limit minimum {floor:.0f} s, ratio {ratio}"
        )
        spent = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
        print(f"  phases: {spent}")
    print(f"median wall time: {median(walls):.1f} s")


if __name__ == "__main__":
    main()
