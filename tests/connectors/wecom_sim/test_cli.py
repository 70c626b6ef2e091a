"""`siyu wecom-sim` serves a seeded simulator on the given port."""

import socket
import subprocess
import sys
import time

import httpx

from siyu.connectors.wecom_sim import SimConfig


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_wecom_sim_command_serves_a_seeded_corp() -> None:
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from siyu.cli.main import app; app()",
        "wecom-sim",
        "--port",
        str(port),
        "--seed",
        "7",
        "--seed-staff",
        "3",
        "--seed-contacts",
        "12",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                state = httpx.get(f"{base_url}/control/state").json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        config = SimConfig(seed=7)
        assert state["corp_id"] == config.resolved_corp_id
        assert (len(state["members"]), len(state["contacts"])) == (3, 12)
        token = httpx.get(
            f"{base_url}/cgi-bin/gettoken",
            params={
                "corpid": config.resolved_corp_id,
                "corpsecret": config.resolved_contact_secret,
            },
        ).json()
        assert token["errcode"] == 0
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
