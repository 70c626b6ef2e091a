"""Helpers for the simulator's own tests: an API caller and a real callback receiver."""

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from siyu.connectors.wecom.crypto import (
    CallbackCrypto,
    CallbackCryptoError,
    new_encoding_aes_key,
    new_token,
)
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.server import ThreadedServer


class Cgi:
    """Calls /cgi-bin/ APIs with a token for one secret, refreshing it as a client would."""

    def __init__(self, sim: WecomSim, secret: str) -> None:
        self.sim = sim
        self.secret = secret
        self.http = httpx.Client(base_url=f"{sim.base_url}/cgi-bin", timeout=10)
        self.token = self._gettoken()

    def _gettoken(self) -> str:
        params = {"corpid": self.sim.corp_id, "corpsecret": self.secret}
        token: str = self.http.get("/gettoken", params=params).json()["access_token"]
        return token

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        params = kwargs.pop("params", {})
        for _ in range(2):
            response = self.http.request(
                method, path, params={"access_token": self.token, **params}, **kwargs
            )
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            if body["errcode"] not in (40014, 42001):
                break
            self.token = self._gettoken()
        return body

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("POST", path, json=body or {})

    def ok(self, path: str, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        result = self.post(path, body) if body is not None else self.get(path, **params)
        assert result["errcode"] == 0, result
        return result


@pytest.fixture
def cgi(wecom_sim: WecomSim) -> Iterator[Cgi]:
    """The customer-contact secret."""
    caller = Cgi(wecom_sim, wecom_sim.contact_secret)
    yield caller
    caller.http.close()


@pytest.fixture
def directory(wecom_sim: WecomSim) -> Iterator[Cgi]:
    """The 通讯录同步 secret."""
    caller = Cgi(wecom_sim, wecom_sim.directory_secret)
    yield caller
    caller.http.close()


@dataclass
class Received:
    query: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny callback endpoint: answers with `statuses` in turn (then 200), after `delay` s."""

    base_url: str = ""
    corp_id: str = ""
    token: str = field(default_factory=new_token)
    encoding_aes_key: str = field(default_factory=new_encoding_aes_key)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.base_url}/callback"

    def crypto(self, corp_id: str) -> CallbackCrypto:
        return CallbackCrypto(self.token, self.encoding_aes_key, corp_id)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise TimeoutError(f"fewer than {count} callbacks arrived")


def _receiver_app(receiver: Receiver) -> FastAPI:
    app = FastAPI()

    @app.get("/callback")
    async def verify_url(request: Request) -> Response:
        query = request.query_params
        try:
            plain = receiver.crypto(receiver.corp_id).verify_and_decrypt(
                query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
            )
        except CallbackCryptoError:
            return Response(status_code=403)
        return Response(plain, media_type="text/plain")

    @app.post("/callback")
    async def callback(request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            receiver.received.append(Received(dict(request.query_params), body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            delay = receiver.delay
        if delay:
            await asyncio.sleep(delay)
        return Response(status_code=status)

    return app


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[tuple[ThreadedServer, Receiver]]:
    receiver = Receiver()
    server = ThreadedServer(_receiver_app(receiver))
    server.start()
    receiver.base_url = server.base_url
    yield server, receiver
    server.stop()


@pytest.fixture
def receiver(_receiver_server: tuple[ThreadedServer, Receiver], wecom_sim: WecomSim) -> Receiver:
    """A receiver the simulator pushes to, emptied for this test."""
    _, receiver = _receiver_server
    with receiver.lock:
        receiver.received.clear()
        receiver.statuses.clear()
        receiver.delay = 0.0
        receiver.corp_id = wecom_sim.corp_id
    wecom_sim.set_callback(receiver.url, receiver.token, receiver.encoding_aes_key)
    return receiver
