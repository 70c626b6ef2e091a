"""Run an ASGI app (the simulator, or a test receiver) on a real port in a background thread."""

import dataclasses
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from siyu.connectors.wecom_sim.app import create_sim_app
from siyu.connectors.wecom_sim.config import SimConfig
from siyu.connectors.wecom_sim.state import SimState


class ThreadedServer:
    """uvicorn on 127.0.0.1 in a daemon thread; port 0 picks a free port."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


class SimServer(ThreadedServer):
    """The simulator on a real HTTP port, for tests and `siyu demo`."""

    def __init__(self, config: SimConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.state = SimState(config)
        super().__init__(create_sim_app(config, self.state), host=host, port=port)

    def reset(self, **overrides: Any) -> None:
        """A fresh corp from the start config, with some of its fields changed."""
        self.state.reset(dataclasses.replace(self.config, **overrides))


class WecomSim:
    """What the `wecom_sim` test fixture yields."""

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
    def corp_id(self) -> str:
        return self.state.corp_id

    @property
    def contact_secret(self) -> str:
        return self.state.config.resolved_contact_secret

    @property
    def directory_secret(self) -> str:
        return self.state.config.resolved_directory_secret

    def reset(self, **overrides: Any) -> None:
        """Start this test over with another corp, e.g. `reset(staff=50, contacts=500)`."""
        self.server.reset(**overrides)

    def set_callback(self, url: str, token: str, encoding_aes_key: str) -> None:
        self.state.set_callback(url, token, encoding_aes_key)

    def wait_for_pushes(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` pushes reached an outcome (delivered or failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                done = sum(1 for p in self.state.pushes if p.status != "pending")
            if done >= count:
                return
            time.sleep(0.02)
        raise TimeoutError(f"fewer than {count} callbacks settled within {timeout} s")
