"""WeCom callback endpoint: acknowledged callbacks per second and latency over loopback.

    .venv/bin/python -m bench.callbacks [--database-url URL] [--runs 3] [--events 5000]
                                        [--connections 16] [--worker] [--workers 1]

Each run starts a fresh database and `siyu serve` on it (a free 127.0.0.1 port; access log
off; in-process worker only with `--worker`; `--workers` web processes), creates a
workspace with a WeCom connection, and encrypts and signs `--events` distinct
`change_external_contact` callbacks up front. A load generator in this process (asyncio,
raw HTTP/1.1 keep-alive connections, so the client is not the bottleneck) posts them over
`--connections` connections and times every request from send to full answer. Every
answer must be an empty 200 and every callback must be in the inbox with its processing
job. The same connections then fire as many GET /healthz at the server, the ceiling the
web stack itself allows on this machine at that moment (the machine is shared; compare).

Prints acknowledged callbacks/s, p50/p99 latency and the server's CPU time per callback
(its processes' user + system time while the callbacks ran, from /proc) per run, and the
medians over runs with the load average.
Targets (issue 4): >= 1,000 callbacks/s and p99 <= 20 ms on the 2-core machine.
"""

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select

from bench.common import (
    DATA_DIR,
    database_label,
    ensure_database,
    free_port,
    median,
    percentile,
    recreate_database,
)
from siyu.connectors.wecom import connection as wecom_connection
from siyu.connectors.wecom.crypto import CallbackCrypto
from siyu.connectors.wecom.jobs import PROCESS_CALLBACK
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.models import Job, WecomCallback
from siyu.workspace import service as workspace_service

DEFAULT_URL = f"sqlite:///{DATA_DIR / 'callbacks.db'}"
SERVER_LOG = DATA_DIR / "callbacks-server.log"


def start_server(url: str, port: int, *, worker: bool, workers: int) -> subprocess.Popen[bytes]:
    """`siyu serve` (which migrates the empty database), once it answers /readyz."""
    args = [str(Path(sys.executable).with_name("siyu")), "serve", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    args.append("--worker" if worker else "--no-worker")
    with SERVER_LOG.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            args, env={**os.environ, "SIYU_DATABASE_URL": url}, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    msg = f"the server did not become ready within 60 s; see {SERVER_LOG}"
    raise SystemExit(msg)


@dataclass(frozen=True)
class Prepared:
    workspace_id: int
    slug: str
    requests: list[bytes]


def prepare(url: str, events: int, port: int) -> Prepared:
    """A workspace with a connection, and every callback request encrypted and signed."""
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        slug = f"cb-{uuid.uuid4().hex[:10]}"
        workspace = workspace_service.create_workspace(session, slug=slug, name=slug)
        connection = wecom_connection.connect(
            session,
            workspace_id=workspace.id,
            corp_id=f"ww{uuid.uuid4().hex[:16]}",
            contact_secret=secrets.token_hex(16),
            # Handlers that re-read WeCom (with --worker) fail fast here, never reach the internet.
            api_base_url="http://127.0.0.1:9",
        )
        crypto: CallbackCrypto = wecom_connection.crypto_for(connection)
        workspace_id = workspace.id
    engine.dispose()
    requests = []
    for n in range(events):
        xml = (
            f"<xml><ToUserName><![CDATA[{crypto.receive_id}]]></ToUserName>"
            "<FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{1_700_000_000 + n}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[change_external_contact]]></Event>"
            "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
            "<UserID><![CDATA[zhangsan]]></UserID>"
            f"<ExternalUserID><![CDATA[wm{n:030d}]]></ExternalUserID>"
            f"<State><![CDATA[channel-{n % 50}]]></State>"
            f"<WelcomeCode><![CDATA[{secrets.token_hex(16)}]]></WelcomeCode></xml>"
        )
        timestamp, nonce = str(1_700_000_000 + n), str(secrets.randbelow(10**9))
        encrypted, signature = crypto.seal(xml.encode(), timestamp, nonce)
        body = (
            f"<xml><ToUserName><![CDATA[{crypto.receive_id}]]></ToUserName>"
            f"<AgentID><![CDATA[1000002]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        ).encode()
        query = urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})
        head = (
            f"POST /wecom/callback/{slug}?{query} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return Prepared(workspace_id, slug, requests)


async def _connection_worker(
    port: int, queue: list[bytes], latencies: list[float], statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(status_line.split()[1]))
    finally:
        writer.close()


async def fire(port: int, requests: list[bytes], connections: int) -> tuple[float, list[float]]:
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection_worker(port, queue, latencies, statuses) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    refused = [s for s in statuses if s != 200]
    if refused:
        msg = f"{len(refused)} callbacks were not acknowledged: {sorted(set(refused))}"
        raise SystemExit(msg)
    return elapsed, latencies


def check_stored(url: str, workspace_id: int, expected: int) -> None:
    engine = build_engine(url)
    with unit_of_work(engine, write=False) as session:
        stored = session.scalar(
            select(func.count())
            .select_from(WecomCallback)
            .where(WecomCallback.workspace_id == workspace_id)
        )
        jobs = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.workspace_id == workspace_id, Job.name == PROCESS_CALLBACK)
        )
    engine.dispose()
    if stored != expected or jobs != expected:
        msg = f"expected {expected} stored callbacks and jobs, found {stored} and {jobs}"
        raise SystemExit(msg)


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) so far of a process and its children (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        pid = int(stat.parent.name)
        if pid == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run_once(
    url: str, events: int, connections: int, *, worker: bool, workers: int
) -> tuple[float, ...]:
    recreate_database(url)
    port = free_port()
    server = start_server(url, port, worker=worker, workers=workers)
    prepared = prepare(url, events, port)
    healthz = [f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()] * events
    try:
        cpu_started = cpu_seconds(server.pid)
        elapsed, latencies = asyncio.run(fire(port, prepared.requests, connections))
        cpu = cpu_seconds(server.pid) - cpu_started
        baseline, _ = asyncio.run(fire(port, healthz, connections))
    finally:
        server.terminate()
        server.wait(30)
    check_stored(url, prepared.workspace_id, events)
    rate = events / elapsed
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    return rate, p50, p99, cpu / events * 1000, events / baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--worker", action="store_true", help="run the in-process worker too")
    parser.add_argument("--workers", type=int, default=1, help="web processes (siyu serve)")
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    ensure_database(args.database_url)
    print(
        f"WeCom callbacks on {database_label(args.database_url)}: {args.events} events, "
        f"{args.connections} connections, {args.workers} web process(es), "
        f"worker {'on' if args.worker else 'off'}"
    )
    results = []
    for run in range(1, args.runs + 1):
        rate, p50, p99, cpu, healthz = run_once(
            args.database_url,
            args.events,
            args.connections,
            worker=args.worker,
            workers=args.workers,
        )
        results.append((rate, p50, p99, cpu, healthz))
        print(
            f"  run {run}: {rate:8.0f} callbacks/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
            f"   server CPU {cpu:5.3f} ms/callback"
            f"   (GET /healthz on the same server: {healthz:6.0f}/s)"
        )
    print(
        f"median: {median([r[0] for r in results]):8.0f} callbacks/s   "
        f"p50 {median([r[1] for r in results]):6.2f} ms   "
        f"p99 {median([r[2] for r in results]):6.2f} ms   "
        f"server CPU {median([r[3] for r in results]):5.3f} ms/callback"
        f"   (GET /healthz: {median([r[4] for r in results]):6.0f}/s)"
        f"   load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
