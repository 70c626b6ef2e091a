"""A whole email broadcast: plan and send N recipients through the worker to an SMTP sink.

    .venv/bin/python -m bench.broadcast_email [--recipients 20000] [--runs 3]
        [--connections 8] [--html-kb 8] [--database-url URL]

Starts from an empty database (SQLite file under bench/data/, or the PostgreSQL database
named; never `test`), writes a workspace with `--recipients` customers (name, email,
city), a dynamic segment of everyone with a city, and an email account pointing at a
`LeanSink` in a process of its own. Each run creates a new broadcast to the segment (a
Chinese HTML body of about `--html-kb` KB with the customer's name and three links, a
text part and a subject) and runs its jobs with the worker's `Runner`, as `siyu worker`
does: `messaging.start` (snapshot, eligibility, delivery rows) then `messaging.send`
(claim, render with tracked links, unsubscribe URLs and open pixels, hand over, SMTP,
record).

Prints per run and as medians: the plan's wall time, the send's messages/s (sent /
send-job wall time), the send loop's median batch time (claim → recorded), and beside
them the raw `SmtpSender` figure (bench/email.py: the same sink, pool size and body
size, messages rendered before the clock starts) so the broadcast's overhead shows, and
the load average when the run ended (the machine is shared: figures move with it). The
sink's journal must list every recipient exactly once.
Target: >= 2,000 messages/s on the 2-core machine (listmonk relays about 830/s).
"""

import argparse
import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text

from bench.common import DATA_DIR, DEFAULT_DATABASE_URL, database_label, median, recreate_database
from bench.email import PRODUCTS, make_emails, process_cpu, send_all
from siyu.connectors.smtp.config import SmtpConfig
from siyu.connectors.smtp.lean_sink import LeanSink
from siyu.db import migrate
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.messaging import service as messaging_service
from siyu.messaging.schemas import BroadcastIn, Channel, ChannelAccountIn, Content
from siyu.models import Broadcast, Customer, Job
from siyu.segments import service as segments_service
from siyu.segments.schemas import SegmentIn
from siyu.worker.runner import Runner
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

CHUNK = 5_000
CITIES = ["上海", "杭州", "成都", "广州", "北京", "南京", "武汉", "深圳"]
LINKS = [
    "https://shop.example.cn/d12",
    "https://shop.example.cn/coupon/299-50",
    "https://shop.example.cn/new",
]


def html_template(kb: int) -> str:
    rows: list[str] = []
    index = 0
    while sum(len(row.encode()) for row in rows) < kb * 1024 - 700:
        rows.append(
            f'<tr><td style="padding:8px;border-bottom:1px solid #eee">'
            f'<a href="{LINKS[index % len(LINKS)]}">{PRODUCTS[index % len(PRODUCTS)]}</a>'
            f"：限时{8 - index % 3}折，满 299 减 50，今晚 20:00 开抢，先到先得。</td></tr>"
        )
        index += 1
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>双十二</title>'
        '</head><body><p style="font-size:16px">亲爱的{客户昵称}，您好！</p>'
        "<p>感谢您一直以来对思域旗舰店的支持，双十二会员专享今晚开启：</p>"
        f'<table style="width:100%;border-collapse:collapse">{"".join(rows)}</table>'
        f'<p><a href="{LINKS[0]}">立即查看</a></p></body></html>'
    )


def setup(engine: Engine, recipients: int) -> tuple[Principal, int]:
    """A workspace with the customers and the segment; returns its principal and segment."""
    with unit_of_work(engine) as session:
        workspace = workspace_service.create_workspace(
            session, slug="bench-broadcast-email", name="邮件群发压测"
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
                        "email": f"member{n}@customers.example",
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


@dataclass
class Run:
    plan_s: float
    send_s: float
    sent: int
    batch_ms: float
    cpu_s: float  # this process's CPU time in the send job
    sink_cpu_s: float  # the sink process's CPU time in the send job
    db_cpu_s: float | None  # PostgreSQL backends' CPU time in the send job

    @property
    def rate(self) -> float:
        return self.sent / self.send_s


def one_run(
    engine: Engine, principal: Principal, segment_id: int, sink: LeanSink, html: str, run: int
) -> Run:
    before = sink.accepted
    with unit_of_work(engine) as session:
        broadcast = messaging_service.create(
            session,
            principal,
            BroadcastIn(
                name=f"双十二会员专享 {run}",
                channel=Channel.EMAIL,
                segment_id=segment_id,
                content=Content(
                    subject="【思域旗舰店】{客户昵称}，双十二会员专享礼已到账",
                    html=html,
                    text=f"亲爱的{{客户昵称}}，双十二会员专享今晚开启：{LINKS[0]}",
                ),
            ),
        )
        messaging_service.send(session, principal, broadcast.id)
    runner = Runner(engine, lane=None)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    db_cpu: dict[str, float | None] = {}
    assert sink.pid is not None
    results: dict[str, Any] = {}
    while True:
        claimed = runner.claim(1)
        if not claimed:
            break
        sink_started, db_started = process_cpu(sink.pid), backends_cpu(engine)
        started, cpu_started = time.perf_counter(), time.process_time()
        runner.execute(claimed[0])
        name = claimed[0].name
        timings[name] = timings.get(name, 0) + time.perf_counter() - started
        cpu[name] = cpu.get(name, 0) + time.process_time() - cpu_started
        cpu[f"{name} sink"] = process_cpu(sink.pid) - sink_started
        db_cpu[name] = _spent(db_started, backends_cpu(engine))
        with unit_of_work(engine) as session:
            results[name] = session.scalar(select(Job.result).where(Job.id == claimed[0].id))
    with unit_of_work(engine) as session:
        row = session.get(Broadcast, broadcast.id)
        assert row is not None
        if row.status != "completed":
            msg = f"the broadcast ended {row.status}: {results}"
            raise SystemExit(msg)
        planned = row.planned_count
    if sink.accepted - before != planned:
        msg = f"the sink accepted {sink.accepted - before}, expected {planned}"
        raise SystemExit(msg)
    send = results["messaging.send"] or {}
    return Run(
        timings["messaging.start"],
        timings["messaging.send"],
        int(send.get("sent", 0)),
        float(send.get("batch_ms_median", 0.0)),
        cpu["messaging.send"],
        cpu["messaging.send sink"],
        db_cpu["messaging.send"],
    )


def backends_cpu(engine: Engine) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL backend on the bench database (None on SQLite).
    A backend that ends during a job takes its time with it, so this is a lower bound."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    found: dict[int, float] = {}
    for pid in pids:
        try:
            found[pid] = process_cpu(pid)
        except OSError:  # ended since, or not on this machine
            continue
    return found


def _spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    if before is None or after is None:
        return None
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def raw_rate(sink: LeanSink, connections: int, recipients: int, kb: int) -> float:
    config = SmtpConfig(
        host="127.0.0.1",
        port=sink.port,
        from_address="crm@shop.example.cn",
        from_name="思域旗舰店",
        max_connections=connections,
        messages_per_connection=1000,
    )
    elapsed, _, outcomes = asyncio.run(send_all(config, make_emails(recipients, kb)))
    assert all(o.ok for o in outcomes)
    return recipients / elapsed


def _per_message(seconds: float | None, sent: int) -> str:
    return "-" if seconds is None else f"{seconds / sent * 1e6:,.0f}"


def check_journal(journal: Path, runs: int, recipients: int) -> None:
    seen: dict[str, int] = {}
    for line in journal.read_text().splitlines():
        message_id, _, address = line.partition(" ")
        if message_id.endswith("@shop.example.cn>"):
            seen[address] = seen.get(address, 0) + 1
    wrong = {a: n for a, n in seen.items() if n != runs}
    if len(seen) != recipients or wrong:
        msg = f"journal: {len(seen)} recipients, {len(wrong)} not reached exactly once per run"
        raise SystemExit(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--html-kb", type=int, default=8)
    parser.add_argument(
        "--database-url", default=DEFAULT_DATABASE_URL.replace("bench.db", "broadcast-email.db")
    )
    args = parser.parse_args()
    recreate_database(args.database_url)
    engine = build_engine(args.database_url)
    migrate.upgrade(engine)
    started = time.perf_counter()
    principal, segment_id = setup(engine, args.recipients)
    html = html_template(args.html_kb)
    print(
        f"email broadcast: {args.recipients:,} recipients on {database_label(args.database_url)}"
        f" (set up in {time.perf_counter() - started:.1f} s), HTML ~{len(html.encode()) / 1024:.1f}"
        f" KB with {len(LINKS)} tracked links, {args.connections} SMTP connections, lean sink in"
        f" its own process, {args.runs} run(s)"
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    journal = DATA_DIR / "broadcast-email-journal.txt"
    journal.unlink(missing_ok=True)
    with LeanSink(journal=journal) as sink:
        with unit_of_work(engine) as session:
            messaging_service.save_account(
                session,
                principal,
                "email",
                ChannelAccountIn(
                    config={
                        "host": "127.0.0.1",
                        "port": sink.port,
                        "from_address": "crm@shop.example.cn",
                        "from_name": "思域旗舰店",
                        "security": "none",
                        "max_connections": args.connections,
                        "messages_per_connection": 1000,
                    },
                    secret="",
                ),
            )
        print(
            f"{'run':>3} | {'plan s':>6} | {'send msg/s':>10} | {'batch ms p50':>12} |"
            " CPU µs/msg: sender | sink | database | raw msg/s | load"
        )
        print(
            "----|--------|------------|--------------|--------------------|------|----------|"
            "-----------|-----"
        )
        runs: list[Run] = []
        raws: list[float] = []
        for number in range(1, args.runs + 1):
            run = one_run(engine, principal, segment_id, sink, html, number)
            raw = raw_rate(sink, args.connections, args.recipients, args.html_kb)
            runs.append(run)
            raws.append(raw)
            print(
                f"{number:>3} | {run.plan_s:>6.2f} | {run.rate:>10,.0f} | {run.batch_ms:>12.1f} |"
                f" {run.cpu_s / run.sent * 1e6:>18,.0f} |"
                f" {run.sink_cpu_s / run.sent * 1e6:>4,.0f} |"
                f" {_per_message(run.db_cpu_s, run.sent):>8} | {raw:>9,.0f} |"
                f" {os.getloadavg()[0]:.1f}"
            )
    check_journal(journal, args.runs, args.recipients)
    rate = median([r.rate for r in runs])
    raw = median(raws)
    print(
        f"median over {len(runs)} runs: plan {median([r.plan_s for r in runs]):.2f} s, send"
        f" {rate:,.0f} msg/s (target 2,000), batch {median([r.batch_ms for r in runs]):.1f} ms,"
        f" CPU µs/msg: sender {median([r.cpu_s / r.sent for r in runs]) * 1e6:,.0f},"
        f" sink {median([r.sink_cpu_s / r.sent for r in runs]) * 1e6:,.0f},"
        f" database {_per_message(runs[len(runs) // 2].db_cpu_s, runs[len(runs) // 2].sent)};"
        f" raw SmtpSender {raw:,.0f} msg/s; broadcast/raw {rate / raw:.2f};"
        " journal: every recipient exactly once per run"
    )


if __name__ == "__main__":
    main()
