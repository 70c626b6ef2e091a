# ruff: noqa: A005 - `python -m bench.email`; the name shadows nothing inside the package
"""Email sending: messages/s and per-message latency from SmtpSender to a local SMTP sink.

    .venv/bin/python -m bench.email [--messages 20000] [--pools 1,2,4,8] [--runs 3]
                                    [--sink lean|aiosmtpd] [--html-kb 8]

The sink runs in a process of its own on a free 127.0.0.1 port and counts messages
without storing them: `lean` (default), a bare asyncio SMTP responder that costs far
less per message than the sender, so the figure shows what the sender can do (cheaper
than `LeanSink`, which journals, can hold replies and polls for its controls); or
`aiosmtpd` (the server the tests and the demo sink use), which reads DATA line by line
and tops out near 1,000 messages/s on one core, so it measures itself.

Each recipient gets their own Chinese HTML body (about `--html-kb` KB, their name and a
tracked link in it) with a text part, a Chinese subject and List-Unsubscribe headers,
built before the clock starts; MIME rendering is part of what is timed. For each pool
size, `--messages` go through `SmtpSender` with one worker per pooled connection (what
`send_many` does), each send timed from call to outcome. The sink's count must equal the
number of ok outcomes.

Prints, per pool size, the median over runs of messages/s, of p50/p95 latency and of
the CPU time per message of the sender (this process) and of the sink's process (the
two share the machine, so both count against the target), and the load average.
Target: >= 2,000 messages/s on the 2-core machine (listmonk relays about 830/s).
"""

import argparse
import asyncio
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from bench.common import free_port, median, percentile
from siyu.connectors.outcome import SendOutcome
from siyu.connectors.smtp.config import Email, SmtpConfig
from siyu.connectors.smtp.sender import SmtpSender

PRODUCTS = ["羊绒围巾", "真丝睡衣", "保温杯", "蓝牙耳机", "护手霜礼盒", "有机大米", "乌龙茶"]


# -- the sinks (each in its own process) ---------------------------------------------------


def _serve_aiosmtpd(port: int, count: "Synchronized[int]", ready: Connection) -> None:
    from aiosmtpd.controller import Controller  # noqa: PLC0415 - only the sink process
    from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: PLC0415

    class Counter:
        async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
            self, _server: SMTP, _session: Session, _envelope: Envelope
        ) -> str:
            with count.get_lock():
                count.value += 1
            return "250 2.0.0 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.send("ready")
    ready.recv()  # blocks until the parent says stop
    controller.stop()


class _LeanSmtp(asyncio.Protocol):
    """Just enough SMTP for a client that sends MAIL, RCPT, DATA and QUIT."""

    def __init__(self, count: "Synchronized[int]") -> None:
        self.count = count
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 bench sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    self.buffer = self.buffer[-4:]
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self.count.value += 1  # one process, one thread: no lock needed
                self.transport.write(b"250 2.0.0 OK\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            verb = self.buffer[:4].upper()
            self.buffer = self.buffer[line_end + 2 :]
            if verb == b"EHLO":
                self.transport.write(b"250-bench\r\n250-8BITMIME\r\n250 SIZE 33554432\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


def _serve_lean(port: int, count: "Synchronized[int]", ready: Connection) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _LeanSmtp(count), "127.0.0.1", port)
        ready.send("ready")
        await loop.run_in_executor(None, ready.recv)
        server.close()

    asyncio.run(serve())


class Sink:
    def __init__(self, kind: str) -> None:
        self.port = free_port()
        self.count: Synchronized[int] = multiprocessing.Value("q", 0)
        self._control, remote = multiprocessing.Pipe()
        target = _serve_aiosmtpd if kind == "aiosmtpd" else _serve_lean
        self.process = multiprocessing.Process(
            target=target, args=(self.port, self.count, remote), daemon=True
        )

    @property
    def accepted(self) -> int:
        return self.count.value

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def __enter__(self) -> "Sink":
        self.process.start()
        if not self._control.poll(30):
            msg = "the SMTP sink did not start within 30 s"
            raise SystemExit(msg)
        self._control.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._control.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far; Linux only."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the messages --------------------------------------------------------------------------


def html_body(number: int, kb: int) -> str:
    name = f"会员{number:06d}"
    link = f"https://shop.example/l/{number:x}a7f3"
    items: list[str] = []
    index = 0
    while sum(len(item.encode()) for item in items) < kb * 1024 - 900:
        product = PRODUCTS[index % len(PRODUCTS)]
        items.append(
            f'<tr><td style="padding:8px;border-bottom:1px solid #eee">'
            f'<a href="{link}?p={index}">{product}</a>：限时{8 - index % 3}折，'
            f"满 299 减 50，今晚 20:00 开抢，库存有限，先到先得。</td></tr>\n"
        )
        index += 1
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        "<title>双十一预售</title></head><body>"
        f'<p style="font-size:16px">亲爱的{name}，您好！</p>'
        "<p>感谢您一直以来对思域旗舰店的支持，双十一预售今晚开启：</p>"
        f'<table style="width:100%;border-collapse:collapse">{"".join(items)}</table>'
        f'<p><a href="{link}">立即查看</a> · <a href="https://shop.example/u/{number}">退订</a></p>'
        "</body></html>"
    )


def make_emails(count: int, kb: int) -> list[Email]:
    return [
        Email(
            to_address=f"member{n}@customers.example",
            to_name=f"会员{n:06d}",
            subject="【思域旗舰店】双十一预售今晚 8 点开启，专属优惠已到账",
            text=f"亲爱的会员{n:06d}，双十一预售今晚 8 点开启，点击查看：https://shop.example/l/{n:x}a7f3",
            html=html_body(n, kb),
            headers={
                "List-Unsubscribe": f"<https://shop.example/u/{n}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            message_id=f"<broadcast-1.delivery-{n}@siyu.bench>",
        )
        for n in range(count)
    ]


# -- one run -------------------------------------------------------------------------------


async def send_all(
    config: SmtpConfig, emails: Sequence[Email]
) -> tuple[float, list[float], list[SendOutcome]]:
    latencies: list[float] = []
    outcomes: list[SendOutcome] = []
    indexes = iter(range(len(emails)))
    async with SmtpSender(config) as sender:

        async def work() -> None:
            for index in indexes:
                started = time.perf_counter()
                outcomes.append(await sender.send(emails[index]))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(work() for _ in range(config.max_connections)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, outcomes


@dataclass
class Result:
    rate: float
    p50: float
    p95: float
    sender_cpu: float  # seconds per message, this process
    sink_cpu: float  # seconds per message, the sink process


def one_run(sink: Sink, pool: int, emails: Sequence[Email]) -> Result:
    config = SmtpConfig(
        host="127.0.0.1",
        port=sink.port,
        from_address="news@shop.example",
        from_name="思域旗舰店",
        max_connections=pool,
        messages_per_connection=1000,
    )
    before = sink.accepted
    sink_started, started = process_cpu(sink.pid), time.process_time()
    elapsed, latencies, outcomes = asyncio.run(send_all(config, emails))
    sender_cpu = time.process_time() - started
    failed = [o for o in outcomes if not o.ok]
    if failed:
        msg = f"{len(failed)} sends failed, e.g. {failed[0]}"
        raise SystemExit(msg)
    deadline = time.monotonic() + 5
    while sink.accepted - before < len(emails) and time.monotonic() < deadline:
        time.sleep(0.05)
    if sink.accepted - before != len(emails):
        msg = f"the sink counted {sink.accepted - before}, expected {len(emails)}"
        raise SystemExit(msg)
    sink_cpu = process_cpu(sink.pid) - sink_started
    return Result(
        len(emails) / elapsed,
        percentile(latencies, 50),
        percentile(latencies, 95),
        sender_cpu / len(emails),
        sink_cpu / len(emails),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--pools", default="1,2,4,8")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sink", choices=["lean", "aiosmtpd"], default="lean")
    parser.add_argument("--html-kb", type=int, default=8)
    args = parser.parse_args()
    pools = [int(p) for p in args.pools.split(",")]
    emails = make_emails(args.messages, args.html_kb)
    size = sum(len((e.html or "").encode()) for e in emails[:100]) / 100
    print(
        f"email: {args.messages:,} messages (Chinese HTML ~{size / 1024:.1f} KB UTF-8), "
        f"{args.sink} sink in its own process, {args.runs} run(s) per pool size"
    )
    print(
        f"{'pool':>4} | {'messages/s':>10} | {'p50 ms':>7} | {'p95 ms':>7} |"
        " sender CPU µs/msg | sink CPU µs/msg | load"
    )
    print("-----|------------|---------|---------|-------------------|-----------------|-----")
    with Sink(args.sink) as sink:
        for pool in pools:
            results = [one_run(sink, pool, emails) for _ in range(args.runs)]
            rate = median([r.rate for r in results])
            p50 = median([r.p50 for r in results]) * 1000
            p95 = median([r.p95 for r in results]) * 1000
            sender = median([r.sender_cpu for r in results]) * 1e6
            sink_cpu = median([r.sink_cpu for r in results]) * 1e6
            print(
                f"{pool:>4} | {rate:>10,.0f} | {p50:>7.2f} | {p95:>7.2f} | {sender:>17,.0f} |"
                f" {sink_cpu:>15,.0f} | {os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    main()
