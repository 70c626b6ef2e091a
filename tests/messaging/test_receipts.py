"""SMS receipts: the per-workspace push URLs, reports and replies, and the pull fallback."""

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.connectors.aliyun_sms_sim import AliyunSmsSim, SimConfig, SimServer
from siyu.connectors.aliyun_sms_sim.seed import SHIPPED
from siyu.content import preferences
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.messaging import receipt_jobs, receipts
from siyu.messaging.receipt_jobs import PULL_JOB
from siyu.models import Broadcast, Customer, Delivery, Identity, Job, OptOut
from siyu.worker.queue import enqueue
from tests.conftest import WorkspaceFixture

RunJobs = Callable[[], int]
SHIPPED_PARAMS = {"name": "林小姐", "product": "雪融山茶精华", "tracking": "SF1234567890"}


@pytest.fixture(scope="module")
def _sim_server() -> Iterator[SimServer]:
    server = SimServer(SimConfig(report_delay=600.0))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sim(_sim_server: SimServer) -> Iterator[AliyunSmsSim]:
    _sim_server.reset()
    with httpx.Client(base_url=f"{_sim_server.base_url}/control", timeout=10) as control:
        yield AliyunSmsSim(_sim_server, control)
    _sim_server.reset()


@dataclass
class Sent:
    delivery_id: int
    customer_id: int
    mobile: str
    biz_id: str


def _send(sim: AliyunSmsSim, sends: list[tuple[str, str]]) -> list[str]:
    """SendSms of (mobile, out_id) pairs through the simulator; their BizIds."""

    async def go() -> list[str]:
        found = []
        async with sim.client() as client:
            for mobile, out_id in sends:
                outcome = await client.send_sms(mobile, "山茶集", SHIPPED, SHIPPED_PARAMS, out_id)
                assert outcome.ok, outcome
                assert outcome.provider_id
                found.append(outcome.provider_id)
        return found

    return asyncio.run(go())


def _broadcast(engine: Engine, workspace_id: int) -> int:
    with unit_of_work(engine) as session:
        broadcast = Broadcast(
            workspace_id=workspace_id,
            name="发货通知",
            channel="sms",
            status="completed",
            started_at=utcnow(),
            planned_at=utcnow(),
        )
        session.add(broadcast)
        session.flush()
        return broadcast.id


def _sent(
    engine: Engine,
    sim: AliyunSmsSim,
    workspace_id: int,
    broadcast_id: int,
    mobiles: list[str],
    *,
    record_biz_id: bool = True,
) -> list[Sent]:
    """Customers with mobiles, and an SMS the simulator accepted for each one's delivery."""
    rows: list[tuple[int, int]] = []
    with unit_of_work(engine) as session:
        for mobile in mobiles:
            customer = Customer(workspace_id=workspace_id, name="林小姐", mobile=f"+86{mobile}")
            session.add(customer)
            session.flush()
            session.add(
                Identity(
                    workspace_id=workspace_id,
                    customer_id=customer.id,
                    kind="mobile",
                    value=f"+86{mobile}",
                    source="import",
                )
            )
            delivery = Delivery(
                workspace_id=workspace_id,
                broadcast_id=broadcast_id,
                customer_id=customer.id,
                channel="sms",
                address=f"+86{mobile}",
                status="sending",
                attempts=1,
                committed_at=utcnow(),
            )
            session.add(delivery)
            session.flush()
            rows.append((delivery.id, customer.id))
    biz_ids = _send(sim, [(f"+86{m}", f"d{d}") for m, (d, _) in zip(mobiles, rows, strict=True)])
    with unit_of_work(engine) as session:
        for (delivery_id, _), biz_id in zip(rows, biz_ids, strict=True):
            row = session.get(Delivery, delivery_id)
            assert row is not None
            row.status = "sent"
            row.sent_at = utcnow()
            row.provider_id = biz_id if record_biz_id else None
    return [Sent(d, c, m, b) for (d, c), m, b in zip(rows, mobiles, biz_ids, strict=True)]


def _delivery(engine: Engine, delivery_id: int) -> Delivery:
    with unit_of_work(engine, write=False) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        session.expunge(row)
        return row


def _report(sent: Sent, *, code: str = "DELIVERED", biz_id: str | None = None) -> dict[str, Any]:
    return {
        "phone_number": sent.mobile,
        "send_time": "2026-12-06 10:00:00",
        "report_time": "2026-12-06 10:00:05",
        "success": code == "DELIVERED",
        "err_code": code,
        "err_msg": "用户接收成功" if code == "DELIVERED" else "停机、空号",
        "sms_size": "1",
        "biz_id": sent.biz_id if biz_id is None else biz_id,
        "out_id": f"d{sent.delivery_id}",
    }


def _path(settings: Settings, workspace_id: int, kind: str = "report") -> str:
    urls = receipts.receipt_urls(settings, workspace_id)
    url = urls.report_url if kind == "report" else urls.uplink_url
    assert url.startswith(settings.base_url)
    return url[len(settings.base_url) :]


def _items(kind: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "siyu_sms_receipt_items_total", {"kind": kind, "outcome": outcome}
    )
    return value or 0.0


@pytest.fixture
def setup(engine: Engine, sim: AliyunSmsSim, workspace: WorkspaceFixture) -> tuple[int, list[Sent]]:
    broadcast_id = _broadcast(engine, workspace.id)
    return broadcast_id, _sent(
        engine, sim, workspace.id, broadcast_id, ["13800000001", "13800000002", "13800000003"]
    )


# -- the URLs ------------------------------------------------------------------------


def test_each_workspace_has_its_own_unguessable_receipt_urls(settings: Settings) -> None:
    first = receipts.receipt_urls(settings, 1)
    second = receipts.receipt_urls(settings, 2)

    assert first.report_url.startswith(f"{settings.base_url}/hooks/aliyun-sms/")
    assert first.report_url.endswith("/report")
    assert first.uplink_url.endswith("/up")
    assert first.report_url != second.report_url
    token = first.report_url.split("/")[-2]
    assert receipts.workspace_of(settings, token) == 1
    assert receipts.workspace_of(settings, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_urls_keep_working_while_the_old_key_is_listed_after_a_rotation(
    settings: Settings,
) -> None:
    old_token = receipts.receipt_token(settings, 7)
    rotated = settings.model_copy(
        update={
            "secret_key": SecretStr("a-brand-new-secret-key-for-this-test-0123456789"),
            "previous_secret_keys": [settings.secret_key],
        }
    )
    forgotten = rotated.model_copy(update={"previous_secret_keys": []})

    assert receipts.workspace_of(rotated, old_token) == 7
    assert receipts.workspace_of(forgotten, old_token) is None


# -- reports -------------------------------------------------------------------------


def test_reports_mark_deliveries_delivered_or_failed_with_the_carriers_code(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, second, third) = setup
    body = [_report(first), _report(second, code="MOBILE_NOT_ON_SERVICE")]

    response = client.post(_path(settings, workspace.id), json=body)

    assert response.status_code == 200, response.text
    assert response.json() == {"code": 0, "msg": "接收成功"}
    delivered = _delivery(engine, first.delivery_id)
    assert (delivered.status, delivered.reason) == ("delivered", None)
    assert delivered.delivered_at is not None
    failed = _delivery(engine, second.delivery_id)
    assert (failed.status, failed.reason) == ("failed", "MOBILE_NOT_ON_SERVICE")
    assert failed.detail == "MOBILE_NOT_ON_SERVICE: 停机、空号"
    assert _delivery(engine, third.delivery_id).status == "sent"


def test_a_repeated_push_changes_nothing_and_counts_as_duplicate(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, *_rest) = setup
    path = _path(settings, workspace.id)
    assert client.post(path, json=[_report(first)]).status_code == 200
    after_first = _delivery(engine, first.delivery_id)
    duplicates = _items("report", "duplicate")

    again = client.post(path, json=[_report(first, code="MOBILE_NOT_ON_SERVICE")])

    assert again.status_code == 200
    assert _items("report", "duplicate") == duplicates + 1
    row = _delivery(engine, first.delivery_id)
    assert (row.status, row.delivered_at) == ("delivered", after_first.delivered_at)


def test_unknown_biz_ids_are_acknowledged_ignored_and_counted(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, *_rest) = setup
    unknown_before = _items("report", "unknown")
    stranger = _report(first, biz_id="999999999999999999^0")
    stranger["out_id"] = ""  # e.g. a verification code another system sent with this account

    response = client.post(_path(settings, workspace.id), json=[stranger, _report(first)])

    assert response.status_code == 200
    assert _items("report", "unknown") == unknown_before + 1
    assert _delivery(engine, first.delivery_id).status == "delivered"


def test_a_workspaces_url_never_reaches_another_workspaces_deliveries(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    make_workspace: Callable[..., WorkspaceFixture],
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, *_rest) = setup
    other = make_workspace()

    response = client.post(_path(settings, other.id), json=[_report(first)])

    assert response.status_code == 200  # acknowledged: nothing of that workspace matched
    assert _delivery(engine, first.delivery_id).status == "sent"


def test_forged_report_pushes_are_refused_and_change_nothing(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, *_rest) = setup
    elsewhere = settings.model_copy(
        update={"secret_key": SecretStr("another-installation-secret-key-0123456789")}
    )
    paths = [
        "/hooks/aliyun-sms/MQ.forged-signature-aaaaaaaaaaa/report",
        "/hooks/aliyun-sms/not-a-token/report",
        f"/hooks/aliyun-sms/{'x' * 300}/report",
        _path(elsewhere, workspace.id),  # signed by another installation's key
    ]

    answers = [client.post(path, json=[_report(first)]) for path in paths]

    assert [a.status_code for a in answers] == [403] * len(paths)
    assert {a.json()["error"]["code"] for a in answers} == {"forbidden"}
    assert _delivery(engine, first.delivery_id).status == "sent"


def test_malformed_pushes_are_refused_with_400_naming_the_field_and_store_nothing(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, people = setup
    no_biz_id = _report(people[0])
    del no_biz_id["biz_id"]
    bodies = [
        (b"not json", "body"),
        (b'{"biz_id": "1^0"}', "body"),
        (b"[1, 2]", "body[0]"),
        (json.dumps([{"phone_number": "13800000001", "success": True}]).encode(), "body[0]."),
        # one bad item spoils the batch: nothing of it is stored
        (json.dumps([_report(people[0]), no_biz_id]).encode(), "body[1].biz_id"),
    ]
    path = _path(settings, workspace.id)
    headers = {"Content-Type": "application/json"}

    answers = [client.post(path, content=body, headers=headers) for body, _ in bodies]
    oversized = client.post(path, content=b"[" + b" " * (1024 * 1024) + b"]", headers=headers)

    assert [a.status_code for a in answers] == [400] * len(bodies)
    for answer, (_, field) in zip(answers, bodies, strict=True):
        error = answer.json()["error"]
        assert error["code"] == "bad_request"
        assert error["details"]["field"].startswith(field)
    assert oversized.status_code == 413
    assert caplog.text.count("refused") >= len(bodies)
    assert {_delivery(engine, p.delivery_id).status for p in people} == {"sent"}


def test_a_report_for_a_message_still_being_handed_over_is_asked_for_again(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, second, _third) = setup
    with unit_of_work(engine) as session:
        row = session.get(Delivery, second.delivery_id)
        assert row is not None
        row.status, row.provider_id = "sending", None  # the send has not recorded its BizId
    body = [_report(first), _report(second)]
    path = _path(settings, workspace.id)

    early = client.post(path, json=body)

    assert early.status_code == 503
    assert _delivery(engine, first.delivery_id).status == "delivered"
    assert _delivery(engine, second.delivery_id).status == "sending"
    with unit_of_work(engine) as session:
        row = session.get(Delivery, second.delivery_id)
        assert row is not None
        row.status, row.provider_id = "sent", second.biz_id
    again = client.post(path, json=body)
    assert again.status_code == 200
    assert _delivery(engine, second.delivery_id).status == "delivered"


def test_a_report_finds_a_send_whose_biz_id_was_never_recorded_by_its_out_id(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    sim: AliyunSmsSim,
    workspace: WorkspaceFixture,
) -> None:
    broadcast_id = _broadcast(engine, workspace.id)
    [in_doubt] = _sent(
        engine, sim, workspace.id, broadcast_id, ["13800000009"], record_biz_id=False
    )

    response = client.post(_path(settings, workspace.id), json=[_report(in_doubt)])

    assert response.status_code == 200
    row = _delivery(engine, in_doubt.delivery_id)
    assert (row.status, row.provider_id) == ("delivered", in_doubt.biz_id)


# -- replies -------------------------------------------------------------------------


def _uplink(mobile: str, content: str, sequence_id: int = 1_000_000_001) -> dict[str, Any]:
    return {
        "phone_number": mobile,
        "send_time": "2026-12-06 10:05:00",
        "content": content,
        "sign_name": "山茶集",
        "dest_code": "1234",
        "sequence_id": sequence_id,
    }


def _opt_outs(engine: Engine, customer_id: int) -> dict[str, str]:
    with unit_of_work(engine, write=False) as session:
        rows = session.scalars(select(OptOut).where(OptOut.customer_id == customer_id))
        return {row.channel: row.source for row in rows}


def test_a_t_reply_opts_the_customer_out_of_sms_and_other_replies_do_not(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, second, third) = setup
    body = [
        _uplink(first.mobile, "T"),
        _uplink(second.mobile, "好的，谢谢", 1_000_000_002),
        _uplink("13900009999", "退订", 1_000_000_003),  # no customer has this number
        _uplink(third.mobile, " 退订 ", 1_000_000_004),
    ]
    path = _path(settings, workspace.id, "up")

    response = client.post(path, json=body)
    repeated = client.post(path, json=body)

    assert response.status_code == repeated.status_code == 200
    assert response.json() == {"code": 0, "msg": "接收成功"}
    assert _opt_outs(engine, first.customer_id) == {"sms": preferences.SOURCE_SMS_REPLY}
    assert _opt_outs(engine, second.customer_id) == {}
    assert _opt_outs(engine, third.customer_id) == {"sms": preferences.SOURCE_SMS_REPLY}


def test_forged_and_malformed_reply_pushes_opt_nobody_out(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, *_rest) = setup
    token = receipts.receipt_token(settings, workspace.id)

    forged = client.post(f"/hooks/aliyun-sms/{token[:-2]}xx/up", json=[_uplink(first.mobile, "T")])
    malformed = client.post(
        _path(settings, workspace.id, "up"), json=[{"phone_number": first.mobile}]
    )

    assert forged.status_code == 403
    assert malformed.status_code == 400
    assert _opt_outs(engine, first.customer_id) == {}


# -- the pull fallback ---------------------------------------------------------------


def _account(api: TestClient, sim: AliyunSmsSim) -> None:
    response = api.put(
        "/api/v1/messaging/channels/sms",
        json={
            "config": {"base_url": sim.base_url, "access_key_id": sim.access_key_id},
            "secret": sim.access_key_secret,
        },
    )
    assert response.status_code == 200, response.text


def _pull(engine: Engine, run_jobs: RunJobs) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        job = enqueue(session, PULL_JOB, {"older_than_minutes": 0}, workspace_id=None)
        session.flush()
        job_id = job.id
    run_jobs()
    with unit_of_work(engine, write=False) as session:
        done = session.get(Job, job_id)
        assert done is not None
        assert done.status == "succeeded", done.last_error
        assert done.result is not None
        return done.result


def test_the_pull_job_settles_what_no_push_reported(
    api: TestClient,
    engine: Engine,
    sim: AliyunSmsSim,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
    run_jobs: RunJobs,
) -> None:
    _, (first, second, third) = setup
    [in_doubt] = _sent(engine, sim, workspace.id, setup[0], ["13800000004"], record_biz_id=False)
    _account(api, sim)
    sim.control.post(
        "/outcomes", json={"fail_numbers": {second.mobile: "MOBILE_NOT_ON_SERVICE"}}
    ).raise_for_status()
    assert sim.settle() == 4  # no report URL is set: nothing is pushed

    result = _pull(engine, run_jobs)

    assert result["checked"] == 4
    assert (result["delivered"], result["failed"], result["errors"]) == (3, 1, 0)
    assert _delivery(engine, first.delivery_id).status == "delivered"
    failed = _delivery(engine, second.delivery_id)
    assert (failed.status, failed.reason) == ("failed", "MOBILE_NOT_ON_SERVICE")
    assert _delivery(engine, third.delivery_id).status == "delivered"
    settled = _delivery(engine, in_doubt.delivery_id)
    assert (settled.status, settled.provider_id) == ("delivered", None)  # details carry no BizId


def test_the_pull_job_leaves_messages_without_a_receipt_yet_and_asks_again_later(
    api: TestClient,
    engine: Engine,
    sim: AliyunSmsSim,
    setup: tuple[int, list[Sent]],
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, people = setup
    _account(api, sim)
    monkeypatch.setattr(receipt_jobs, "CHUNK", 2)  # the three rows take two chunks

    waiting = _pull(engine, run_jobs)
    sim.settle()
    settled = _pull(engine, run_jobs)

    assert (waiting["checked"], waiting["waiting"], waiting["delivered"]) == (3, 3, 0)
    assert (settled["checked"], settled["delivered"]) == (3, 3)
    assert {_delivery(engine, p.delivery_id).status for p in people} == {"delivered"}
    assert _pull(engine, run_jobs)["checked"] == 0


def test_the_pull_job_skips_workspaces_without_an_sms_account(
    engine: Engine, setup: tuple[int, list[Sent]], run_jobs: RunJobs
) -> None:
    result = _pull(engine, run_jobs)

    assert (result["checked"], result["no_account"], result["delivered"]) == (3, 3, 0)


def test_reports_of_one_batch_biz_id_are_told_apart_by_number(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, second, _third) = setup
    with unit_of_work(engine) as session:
        for sent in (first, second):
            row = session.get(Delivery, sent.delivery_id)
            assert row is not None
            row.provider_id = "848922680159657299^0"  # one SendBatchSms request
    batch = [
        _report(first, biz_id="848922680159657299^0"),
        _report(second, code="MOBILE_IN_BLACK", biz_id="848922680159657299^0"),
    ]

    response = client.post(_path(settings, workspace.id), json=batch)

    assert response.status_code == 200
    assert _delivery(engine, first.delivery_id).status == "delivered"
    failed = _delivery(engine, second.delivery_id)
    assert (failed.status, failed.reason) == ("failed", "MOBILE_IN_BLACK")


def test_a_report_for_a_send_we_took_for_failed_settles_it_so_it_is_not_sent_again(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    workspace: WorkspaceFixture,
    setup: tuple[int, list[Sent]],
) -> None:
    _, (first, *_rest) = setup
    with unit_of_work(engine) as session:
        row = session.get(Delivery, first.delivery_id)
        assert row is not None
        # the SendSms call timed out: put back for another pass, yet Aliyun had taken it
        row.status, row.provider_id, row.sent_at, row.reason = "pending", None, None, "network"

    response = client.post(_path(settings, workspace.id), json=[_report(first)])

    assert response.status_code == 200
    settled = _delivery(engine, first.delivery_id)
    assert (settled.status, settled.reason, settled.provider_id) == (
        "delivered",
        None,
        first.biz_id,
    )
    assert settled.sent_at == settled.committed_at


def test_the_sms_account_shows_the_urls_to_enter_in_aliyuns_console(
    api: TestClient, settings: Settings, workspace: WorkspaceFixture
) -> None:
    accounts = {a["channel"]: a for a in api.get("/api/v1/messaging/channels").json()}

    urls = receipts.receipt_urls(settings, workspace.id)
    assert accounts["sms"]["receipt_urls"] == {
        "report_url": urls.report_url,
        "uplink_url": urls.uplink_url,
    }
    assert accounts["email"]["receipt_urls"] is None
