"""`siyu serve --workers N` as an operator runs it: a real process tree on a free port."""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from siyu.connectors.wecom import connection as wecom_connection
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.models import WecomCallback
from siyu.workspace import service as workspace_service
from tests.connectors.wecom.conftest import event_xml


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _web_processes(parent: int) -> dict[int, dict[str, str]]:
    """The environment of each process `parent` started to serve requests (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
            environ = (stat.parent / "environ").read_bytes()
        except OSError:
            continue  # ended while we looked
        if ppid == parent and b"multiprocessing.spawn" in command:
            pairs = (item.partition(b"=") for item in environ.split(b"\0") if item)
            found[int(stat.parent.name)] = {k.decode(): v.decode() for k, _, v in pairs}
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_serve_with_workers_answers_from_several_processes_and_runs_the_worker_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    base_url = f"http://127.0.0.1:{_free_port()}"
    siyu = Path(sys.executable).with_name("siyu")
    env = {
        **os.environ,
        "SIYU_DATABASE_URL": url,
        "SIYU_DATA_DIR": str(tmp_path / "data"),
        "SIYU_WORKER_POLL_SECONDS": "0.1",
    }
    args = [str(siyu), "serve", "--host", "127.0.0.1", "--port", base_url.rpartition(":")[2]]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [*args, "--workers", "2", "--no-access-log"], env=env, stdout=log, stderr=log
    )
    try:
        _wait_for(lambda: _ready(base_url), "the server to answer")
        _wait_for(lambda: len(_web_processes(server.pid)) == 2, "two web processes")
        engine = build_engine(url)
        with unit_of_work(engine) as session:
            workspace = workspace_service.create_workspace(session, slug="acme", name="山茶集")
            connection = wecom_connection.connect(
                session,
                workspace_id=workspace.id,
                corp_id="wwserve0001",
                contact_secret=secrets.token_hex(16),
                api_base_url="http://127.0.0.1:9",
            )
            crypto = wecom_connection.crypto_for(connection)
        encrypted, signature = crypto.seal(event_xml("wwserve0001", "some_future_event"), "1", "2")
        query = urlencode({"msg_signature": signature, "timestamp": "1", "nonce": "2"})
        body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"

        answer = httpx.post(f"{base_url}/wecom/callback/acme?{query}", content=body)

        assert answer.status_code == 200

        def processed() -> bool:
            with unit_of_work(engine, write=False) as session:
                status = session.scalar(select(WecomCallback.status))
            return status == "ignored"

        _wait_for(processed, "the worker to process the callback", seconds=60)
        engine.dispose()
        web_environments = _web_processes(server.pid).values()
        assert {e.get("SIYU_WORKER_IN_PROCESS") for e in web_environments} == {"false"}
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()
