"""The simulator as `siyu demo` and `siyu sms-sim` run it, and its control API."""

import socket
import subprocess
import sys
import time

import httpx

from siyu.connectors.aliyun_sms_sim import AliyunSmsSim, SimConfig, start_demo_simulator
from tests.connectors.aliyun_sms.conftest import run


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_demo_simulator_serves_the_seeded_account_on_its_port() -> None:
    port = _free_port()
    server = start_demo_simulator(port=port, report_url="http://127.0.0.1:9/sms/report")
    try:
        assert server.base_url == f"http://127.0.0.1:{port}"
        state = httpx.get(f"{server.base_url}/control/state").json()
        assert state["report_url"] == "http://127.0.0.1:9/sms/report"
        assert [s["sign_name"] for s in state["signs"]] == ["山茶集", "山茶集会员中心"]
        assert state["access_key_ids"] == [SimConfig().resolved_access_key_id]
    finally:
        server.stop()


def test_templates_signs_and_keys_added_by_control_can_be_used(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    control = aliyun_sms_sim.control
    control.post("/keys", json={"access_key_id": "LTAIother", "access_key_secret": "s3"})
    control.post("/signs", json={"sign_name": "山茶集旗舰店"}).raise_for_status()
    control.post(
        "/templates",
        json={
            "template_code": "SMS_500000001",
            "template_content": "${name}您好，您的专属顾问${staff}已为您预留新品小样，回T退订",
            "template_type": 2,
        },
    ).raise_for_status()
    outcome = run(
        aliyun_sms_sim,
        lambda c: c.send_sms(
            "13800000001", "山茶集旗舰店", "SMS_500000001", {"name": "林小姐", "staff": "小雅"}, "x"
        ),
        access_key_id="LTAIother",
        access_key_secret="s3",
    )
    assert outcome.ok
    [message] = control.get("/messages").json()
    assert message["content"] == (
        "【山茶集旗舰店】林小姐您好，您的专属顾问小雅已为您预留新品小样，回T退订"
    )
    control.post("/reset", json={}).raise_for_status()
    assert control.get("/messages").json() == []


def test_sms_sim_command_serves_the_simulator() -> None:
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from siyu.cli.main import app; app()",
        "sms-sim",
        "--port",
        str(port),
        "--seed",
        "7",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/control/state").json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert state["access_key_ids"] == [SimConfig(seed=7).resolved_access_key_id]
    finally:
        process.terminate()
        process.wait(timeout=10)
