"""A whole SMS broadcast through the Aliyun simulator, and its delivery reports coming back.

    .venv/bin/python -m bench.sms [--recipients 5000] [--runs 3] [--database-url URL]

Starts from an empty database (SQLite file under bench/data/, or the PostgreSQL database
named; never `test`) with a workspace of `--recipients` customers (name, mobile, city) and
a dynamic segment of everyone with a city. Two processes of their own on free
127.0.0.1 ports: `siyu serve` (no worker), which receives the reports, and `siyu sms-sim`,
whose report URL is the workspace's signed receipt URL on that server. The SMS account
points at the simulator.

Each run creates a broadcast of the notification template SMS_468250003 (the customer's
name and two more variables) and runs its jobs with the worker's `Runner`, as
`siyu worker` does: `messaging.start` (snapshot, eligibility, delivery rows), then
`messaging.send` (claim, render, hand over, SendSms signed over HTTP with 16 in flight,
record the BizIds). Then it waits until every delivery is `delivered`: the simulator
reports each message `--report-delay` seconds after it was sent (carriers take a few),
in pushes of 100, and pushes again 60 s later what was not acknowledged (as Aliyun does;
the receiver answers 503 to a report whose send it has not recorded yet).

Prints per run and as medians: the plan's wall time, the send's SMS/s (sent / send-job
wall time), the seconds from the end of the send until the last report was recorded,
and beside them the raw `AliyunSmsClient` figure (the same simulator, 16 in flight, no
database) so the broadcast's overhead shows. The simulator must have accepted each
recipient exactly once per run.

`--lost-answers N`: the simulator accepts the first N sends of each run but holds their
answers until Siyu gives up (the account's timeout is 1 s), so they end in doubt; a pass
that saw a whole batch lost stops, and the next pass (run at once instead of 30 s later)
finds them with QuerySendDetails before it sends on. The send figure then counts every
pass; the table adds the passes and how many deliveries they settled. Every recipient must
still be sent exactly once.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, insert, select

from bench.common import (
    DEFAULT_DATABASE_URL,
    database_label,
    free_port,
    median,
    recreate_database,
    start_server,
)
from siyu.config import get_settings
from siyu.connectors.aliyun_sms.client import AliyunSmsClient
from siyu.connectors.aliyun_sms_sim import SimConfig
from siyu.connectors.aliyun_sms_sim.seed import POINTS_EXPIRING
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging import receipts
from siyu.messaging import service as messaging_service
from siyu.messaging.schemas import BroadcastIn, Channel, ChannelAccountIn, Content, SmsContent
from siyu.models import Broadcast, Customer, Delivery, Job
from siyu.segments import service as segments_service
from siyu.segments.schemas import SegmentIn
from siyu.worker.runner import Runner
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

CHUNK = 5_000
CITIES = ["上海", "杭州", "成都", "广州", "北京", "南京", "武汉", "深圳"]
SIGN = "山茶集"
PARAMS = {"name": "{客户昵称}", "points": "200", "date": "12月31日"}
IN_FLIGHT = 16
REPORT_WAIT_S = 300


def mobile(n: int) -> str:
    return f"+86138{n:08d}"


def setup(engine: Engine, recipients: int) -> tuple[Principal, int]:
    with unit_of_work(engine) as session:
        workspace = workspace_service.create_workspace(
            session, slug="bench-broadcast-sms", name="短信群发压测"
        )
        principal = Principal(workspace_id=workspace.id, role=Role.ADMIN)
    with engine.begin() as connection:
        for start in range(0, recipients, CHUNK):
            connection.execute(
                insert(Customer),
                [
                    {
                        "workspace_id": principal.workspace_id,
                        "name": f"会员{n:06d}",
                        "mobile": mobile(n),
                        "city": CITIES[n % len(CITIES)],
                        "custom_fields": {},
                    }
                    for n in range(start, min(start + CHUNK, recipients))
                ],
            )
    with unit_of_work(engine) as session:
        segment = segments_service.create_segment(
            session,
            principal,
            SegmentIn(
                name="有城市的会员",
                rule={"all": [{"type": "profile", "field": "city", "op": "is_set"}]},
            ),
        )
    Runner(engine, lane=None).run_until_idle()  # the segment's first build
    return principal, segment.id


def start_simulator(port: int, report_url: str) -> subprocess.Popen[bytes]:
    siyu = Path(sys.executable).with_name("siyu")
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [str(siyu), "sms-sim", "--port", str(port), "--report-url", report_url],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/control/state", timeout=5).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    msg = "siyu sms-sim did not start within 60 s"
    raise SystemExit(msg)


@dataclass
class Run:
    plan_s: float
    send_s: float
    sent: int
    reports_s: float
    passes: int = 1
    settled: int = 0

    @property
    def rate(self) -> float:
        return self.sent / self.send_s


def _delivered(engine: Engine, broadcast_id: int) -> int:
    with unit_of_work(engine, write=False) as session:
        return (
            session.scalar(
                select(func.count()).where(
                    Delivery.broadcast_id == broadcast_id, Delivery.status == "delivered"
                )
            )
            or 0
        )


def one_run(engine: Engine, principal: Principal, segment_id: int, run: int) -> Run:
    with unit_of_work(engine) as session:
        broadcast = messaging_service.create(
            session,
            principal,
            BroadcastIn(
                name=f"积分到期提醒 {run}",
                channel=Channel.SMS,
                segment_id=segment_id,
                content=Content(
                    sms=SmsContent(sign_name=SIGN, template_code=POINTS_EXPIRING, params=PARAMS)
                ),
            ),
        )
        messaging_service.send(session, principal, broadcast.id)
    runner = Runner(engine, lane=None)
    timings: dict[str, float] = {}
    results: dict[str, Any] = {}
    passes: list[tuple[float, dict[str, Any]]] = []
    while True:
        claimed = runner.claim(1)
        if not claimed:
            if not _later_pass_now(engine):
                break
            continue
        started = time.perf_counter()
        runner.execute(claimed[0])
        took = time.perf_counter() - started
        with unit_of_work(engine) as session:
            result = session.scalar(select(Job.result).where(Job.id == claimed[0].id))
        if claimed[0].name == "messaging.send":
            passes.append((took, result or {}))
        else:
            timings[claimed[0].name] = took
            results[claimed[0].name] = result
    sent_at = time.perf_counter()
    with unit_of_work(engine) as session:
        row = session.get(Broadcast, broadcast.id)
        assert row is not None
        if row.status != "completed":
            msg = f"the broadcast ended {row.status}: {results}"
            raise SystemExit(msg)
        planned = row.planned_count
    while _delivered(engine, broadcast.id) < planned:
        if time.perf_counter() - sent_at > REPORT_WAIT_S:
            msg = f"only {_delivered(engine, broadcast.id)} of {planned} reports recorded"
            raise SystemExit(msg)
        time.sleep(0.2)
    return Run(
        timings["messaging.start"],
        sum(took for took, _ in passes),
        sum(int(r.get("sent", 0)) for _, r in passes),
        time.perf_counter() - sent_at,
        passes=len(passes),
        settled=sum(int(r.get("settled", 0)) for _, r in passes),
    )


def _later_pass_now(engine: Engine) -> bool:
    """Make a send pass queued for later (in-doubt deliveries to settle) due now."""
    with unit_of_work(engine) as session:
        job = session.scalar(
            select(Job).where(Job.name == "messaging.send", Job.status == "queued").limit(1)
        )
        if job is None:
            return False
        job.run_at = utcnow()
        return True


async def raw_rate(base_url: str, config: SimConfig, count: int) -> float:
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with AliyunSmsClient(
        base_url, config.resolved_access_key_id, config.resolved_access_key_secret
    ) as client:

        async def one(n: int) -> bool:
            async with gate:
                outcome = await client.send_sms(
                    f"+86139{n:08d}",
                    SIGN,
                    POINTS_EXPIRING,
                    {"name": f"会员{n:06d}", "points": "200", "date": "12月31日"},
                    f"raw{n}",
                )
                return outcome.ok

        started = time.perf_counter()
        sent = await asyncio.gather(*(one(n) for n in range(count)))
        elapsed = time.perf_counter() - started
    if not all(sent):
        msg = "the raw client had refusals"
        raise SystemExit(msg)
    return count / elapsed


def push_summary(sim_url: str) -> str:
    pushes = httpx.get(f"{sim_url}/control/pushes", timeout=120).json()
    retried = [p for p in pushes if p["attempts"] > 1]
    answers = sorted({r.split(" ")[0] for p in retried for r in p["responses"]})
    return f"{len(pushes)} report pushes, {len(retried)} pushed again" + (
        f" (answers: {', '.join(answers)})" if retried else ""
    )


def check_messages(sim_url: str, runs: int, recipients: int) -> None:
    messages = httpx.get(f"{sim_url}/control/messages", timeout=120).json()
    seen: dict[str, int] = {}
    for message in messages:
        if message["out_id"].startswith("d"):
            seen[message["phone_number"]] = seen.get(message["phone_number"], 0) + 1
    wrong = {p: n for p, n in seen.items() if n != runs}
    if len(seen) != recipients or wrong:
        msg = f"simulator: {len(seen)} numbers, {len(wrong)} not sent exactly once per run"
        raise SystemExit(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--report-delay", type=float, default=5.0)
    parser.add_argument("--lost-answers", type=int, default=0)
    parser.add_argument(
        "--database-url", default=DEFAULT_DATABASE_URL.replace("bench.db", "broadcast-sms.db")
    )
    args = parser.parse_args()
    recreate_database(args.database_url)
    engine = build_engine(args.database_url)
    migrate.upgrade(engine)
    started = time.perf_counter()
    principal, segment_id = setup(engine, args.recipients)
    app_port, sim_port = free_port(), free_port()
    app_url, sim_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{sim_port}"
    here = get_settings().model_copy(update={"base_url": app_url})
    report_url = receipts.receipt_urls(here, principal.workspace_id).report_url
    server = start_server(args.database_url, app_port)
    simulator = start_simulator(sim_port, report_url)
    config = SimConfig()
    try:
        httpx.post(
            f"{sim_url}/control/outcomes", json={"report_delay": args.report_delay}, timeout=10
        ).raise_for_status()
        with unit_of_work(engine) as session:
            messaging_service.save_account(
                session,
                principal,
                "sms",
                ChannelAccountIn(
                    config={
                        "base_url": sim_url,
                        "access_key_id": config.resolved_access_key_id,
                        "timeout_seconds": 1 if args.lost_answers else 10,
                    },
                    secret=config.resolved_access_key_secret,
                ),
            )
        print(
            f"SMS broadcast: {args.recipients:,} recipients on {database_label(args.database_url)}"
            f" (set up in {time.perf_counter() - started:.1f} s), simulator and `siyu serve` in"
            f" processes of their own, reports {args.report_delay:g} s after each send in pushes"
            f" of 100, {args.runs} run(s)"
        )
        print(
            f"{'run':>3} | {'plan s':>6} | {'send SMS/s':>10} | {'reports s':>9} | raw SMS/s"
            " | passes | in doubt settled"
        )
        print("----|--------|------------|-----------|-----------|--------|-----------------")
        runs: list[Run] = []
        raws: list[float] = []
        for number in range(1, args.runs + 1):
            httpx.post(
                f"{sim_url}/control/faults", json={"answer_timeouts": args.lost_answers}, timeout=10
            ).raise_for_status()
            run = one_run(engine, principal, segment_id, number)
            # the raw sends' reports would only load the server: nowhere to push them
            httpx.post(f"{sim_url}/control/urls", json={"report_url": ""}, timeout=10)
            raw = asyncio.run(raw_rate(sim_url, config, args.recipients))
            httpx.post(f"{sim_url}/control/urls", json={"report_url": report_url}, timeout=10)
            runs.append(run)
            raws.append(raw)
            print(
                f"{number:>3} | {run.plan_s:>6.2f} | {run.rate:>10,.0f} | {run.reports_s:>9.1f} |"
                f" {raw:>9,.0f} | {run.passes:>6} | {run.settled:,}"
            )
        check_messages(sim_url, args.runs, args.recipients)
        pushes = push_summary(sim_url)
    finally:
        simulator.terminate()
        server.terminate()
        simulator.wait(timeout=30)
        server.wait(timeout=30)
    rate = median([r.rate for r in runs])
    raw = median(raws)
    print(
        f"median over {len(runs)} runs: plan {median([r.plan_s for r in runs]):.2f} s, send"
        f" {rate:,.0f} SMS/s, all reports recorded {median([r.reports_s for r in runs]):.1f} s"
        f" after the send; raw client {raw:,.0f} SMS/s; broadcast/raw {rate / raw:.2f};"
        f" {median([r.settled for r in runs]):,.0f} in doubt settled;"
        f" {pushes}; every recipient sent exactly once per run"
    )


if __name__ == "__main__":
    main()
