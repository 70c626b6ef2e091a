"""WeCom full sync against the simulator: wall time against what the rate limit allows.

    .venv/bin/python -m bench.wecom_sync [--database-url URL] [--runs 1] [--staff 200]
                                         [--contacts 100000] [--rate-per-minute 10000]

Each run starts a fresh database and a fresh simulated corp (`--staff` members, `--contacts`
external contacts, corp tags, 50 groups) served over real HTTP on 127.0.0.1, connects a
workspace and runs a full sync in this process exactly as `siyu wecom sync` does (commit
after every page, shared database rate limiter). Prints the wall time, the calls made per
API, the minimum time WeCom's per-API limits (`--rate-per-minute`, default WeCom's 10,000,
and 150,000 an hour) allow for those calls, and wall / minimum (target <= 1.25). At the
default limits a sync of this size is not rate bound (the minimum is 0 s: no API needs more
than one minute's quota); lower `--rate-per-minute` to measure how close the sync paces to
a binding limit.
"""

import argparse
import asyncio
import math
import time

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


def one_run(url: str, staff: int, contacts: int, per_minute: int) -> tuple[float, dict[str, int]]:
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
    )
    server = SimServer(config)
    server.start()
    try:
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
            workspace_id = workspace.id
        session = session_factory(engine)()
        run = sync.new_run(session, workspace_id, "full")
        session.commit()

        async def work() -> None:
            async with client_for(session, workspace_id) as client:
                # The client's limits are the simulator's: `per_minute` a minute per API.
                limit = WindowLimit((Window(per_minute, 60), Window(PER_HOUR, 3600)))
                client.limits = dict.fromkeys(PACED, limit)
                await sync.Syncer(
                    session, run, client, commit=session.commit, progress=lambda _d, _t: None
                ).execute()

        started = time.perf_counter()
        asyncio.run(work())
        wall = time.perf_counter() - started
        assert run.status == "succeeded", run.error
        session.close()
        with server.state.lock:
            calls = {path: len(times) for path, times in server.state.calls.items()}
    finally:
        server.stop()
        engine.dispose()
    return wall, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--staff", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rate-per-minute", type=int, default=10_000)
    args = parser.parse_args()
    ensure_database(args.database_url)
    print(
        f"WeCom full sync, {args.staff} staff, {args.contacts:,} contacts, "
        f"{args.rate_per_minute:,} calls/min per API, {database_label(args.database_url)}"
    )
    walls = []
    for index in range(args.runs):
        wall, calls = one_run(args.database_url, args.staff, args.contacts, args.rate_per_minute)
        walls.append(wall)
        floor = minimum_seconds(calls, args.rate_per_minute)
        ratio = f"{wall / floor:.2f}" if floor else "n/a (not rate bound)"
        busiest = ", ".join(f"{p} {n}" for p, n in sorted(calls.items(), key=lambda i: -i[1])[:4])
        print(
            f"run {index + 1}: wall {wall:.1f} s, {sum(calls.values()):,} calls ({busiest}), "
            f"rate-limit minimum {floor:.0f} s, ratio {ratio}"
        )
    print(f"median wall time: {median(walls):.1f} s")


if __name__ == "__main__":
    main()
