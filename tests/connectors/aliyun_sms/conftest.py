"""The Aliyun SMS simulator over real HTTP, and a real receiver for what it pushes."""

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from siyu.connectors.aliyun_sms import ACK, AliyunSmsClient
from siyu.connectors.aliyun_sms_sim import AliyunSmsSim, SimConfig, SimServer
from siyu.connectors.wecom_sim.server import ThreadedServer

T = TypeVar("T")

# The seeded account of brand 山茶集: signs 山茶集 (approved) and 山茶集会员中心 (in review).
# Receipts come only when a test flushes them or moves the simulator clock 10 minutes on.
ALIYUN_SMS_SIM_CONFIG = SimConfig(report_delay=600.0)


@pytest.fixture(scope="session")
def _aliyun_sms_sim_server() -> Iterator[SimServer]:
    server = SimServer(ALIYUN_SMS_SIM_CONFIG)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aliyun_sms_sim(_aliyun_sms_sim_server: SimServer) -> Iterator[AliyunSmsSim]:
    """The Aliyun SMS simulator over real HTTP, with a fresh account for this test."""
    _aliyun_sms_sim_server.reset()
    with httpx.Client(base_url=f"{_aliyun_sms_sim_server.base_url}/control", timeout=10) as control:
        yield AliyunSmsSim(_aliyun_sms_sim_server, control)
    _aliyun_sms_sim_server.reset()


def run(sim: AliyunSmsSim, action: Callable[[AliyunSmsClient], Awaitable[T]], **kwargs: Any) -> T:
    """Run one client coroutine against the simulator (kwargs override the client's)."""

    async def go() -> T:
        async with sim.client(**kwargs) as client:
            return await action(client)

    return asyncio.run(go())


@dataclass
class Received:
    path: str
    body: bytes


@dataclass
class Receiver:
    """Answers pushes with `statuses` in turn (then 200 and Aliyun's ack), recording each."""

    base_url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def report_url(self) -> str:
        return f"{self.base_url}/sms/report"

    @property
    def uplink_url(self) -> str:
        return f"{self.base_url}/sms/up"

    def wait_for(self, count: int, path: str, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [r for r in self.received if r.path == path]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise TimeoutError(f"fewer than {count} pushes reached {path}")


def _receiver_app(receiver: Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/sms/{kind}")
    async def receive(kind: str, request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            receiver.received.append(Received(f"/sms/{kind}", body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
        if status != 200:
            return Response("busy", status_code=status)
        return Response(json.dumps(ACK, ensure_ascii=False), media_type="application/json")

    return app


@pytest.fixture(scope="session")
def _sms_receiver_server() -> Iterator[tuple[ThreadedServer, Receiver]]:
    receiver = Receiver()
    server = ThreadedServer(_receiver_app(receiver))
    server.start()
    receiver.base_url = server.base_url
    yield server, receiver
    server.stop()


@pytest.fixture
def sms_receiver(
    _sms_receiver_server: tuple[ThreadedServer, Receiver], aliyun_sms_sim: AliyunSmsSim
) -> Receiver:
    """A receiver the simulator pushes receipts and replies to, emptied for this test."""
    _, receiver = _sms_receiver_server
    with receiver.lock:
        receiver.received.clear()
        receiver.statuses.clear()
    aliyun_sms_sim.set_urls(receiver.report_url, receiver.uplink_url)
    return receiver
