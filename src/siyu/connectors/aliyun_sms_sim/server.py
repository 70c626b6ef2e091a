"""The SMS simulator on a real loopback port, for tests and `siyu demo` (port 8011)."""

import dataclasses
import time
from typing import Any

import httpx

from siyu.connectors.aliyun_sms.client import AliyunSmsClient
from siyu.connectors.aliyun_sms_sim.app import create_sim_app
from siyu.connectors.aliyun_sms_sim.config import SimConfig
from siyu.connectors.aliyun_sms_sim.pushes import settle_reports
from siyu.connectors.aliyun_sms_sim.state import PushKind, SentSms, SimState
from siyu.connectors.wecom_sim.server import ThreadedServer

DEMO_HOST = "127.0.0.1"
DEMO_PORT = 8011


class SimServer(ThreadedServer):
    """uvicorn serving the simulator in a daemon thread; port 0 picks a free port."""

    def __init__(
        self, config: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimConfig()
        self.state = SimState(self.config)
        super().__init__(create_sim_app(self.config, self.state), host=host, port=port)

    def reset(self, **overrides: Any) -> None:
        """A fresh account from the start config, with some of its fields changed."""
        self.state.reset(dataclasses.replace(self.config, **overrides))


def start_demo_simulator(
    config: SimConfig | None = None,
    *,
    host: str = DEMO_HOST,
    port: int = DEMO_PORT,
    report_url: str = "",
    uplink_url: str = "",
) -> SimServer:
    """Start the simulator for `siyu demo` on 127.0.0.1:8011 (OSError if the port is taken).

    Receipts and replies go to `report_url` / `uplink_url` when given. Stop it with `stop()`.
    """
    base = config or SimConfig()
    server = SimServer(
        dataclasses.replace(
            base,
            report_url=report_url or base.report_url,
            uplink_url=uplink_url or base.uplink_url,
        ),
        host=host,
        port=port,
    )
    server.start()
    return server


class AliyunSmsSim:
    """What the `aliyun_sms_sim` test fixture yields."""

    def __init__(self, server: SimServer, control: httpx.Client) -> None:
        self.server = server
        self.control = control

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def state(self) -> SimState:
        return self.server.state

    @property
    def access_key_id(self) -> str:
        return self.state.config.resolved_access_key_id

    @property
    def access_key_secret(self) -> str:
        return self.state.config.resolved_access_key_secret

    def client(self, **kwargs: Any) -> AliyunSmsClient:
        """A client of this simulator with its key (override any argument)."""
        options: dict[str, Any] = {"read_retries": 2, "backoff": 0.01, **kwargs}
        return AliyunSmsClient(
            options.pop("base_url", self.base_url),
            options.pop("access_key_id", self.access_key_id),
            options.pop("access_key_secret", self.access_key_secret),
            **options,
        )

    def reset(self, **overrides: Any) -> None:
        self.server.reset(**overrides)

    def set_urls(self, report_url: str | None = None, uplink_url: str | None = None) -> None:
        with self.state.lock:
            if report_url is not None:
                self.state.report_url = report_url
            if uplink_url is not None:
                self.state.uplink_url = uplink_url

    def messages(self) -> list[SentSms]:
        with self.state.lock:
            return list(self.state.messages)

    def settle(self) -> int:
        """Every waiting message gets its receipt now (like POST /control/reports/flush)."""
        return settle_reports(self.state, everything=True)

    def wait_for_pushes(
        self, count: int, kind: PushKind | None = None, timeout: float = 10.0
    ) -> None:
        """Block until `count` pushes (of `kind`) reached an outcome (delivered or failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                done = sum(
                    1
                    for push in self.state.pushes
                    if push.status != "pending" and (kind is None or push.kind == kind)
                )
            if done >= count:
                return
            time.sleep(0.02)
        raise TimeoutError(f"fewer than {count} pushes settled within {timeout} s")

    def wait_for_attempts(self, count: int, timeout: float = 10.0) -> None:
        """Block until the pushes made `count` tries in all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                if sum(push.attempts for push in self.state.pushes) >= count:
                    return
            time.sleep(0.02)
        raise TimeoutError(f"fewer than {count} push attempts within {timeout} s")
