"""The callback URL over HTTP: verification, the encrypted inbox, refusals and processing."""

import base64
import itertools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from siyu.app import create_app
from siyu.config import Settings
from siyu.connectors.wecom.connection import connect, crypto_for
from siyu.connectors.wecom.crypto import CallbackCrypto
from siyu.connectors.wecom.events import CallbackEvent, handles
from siyu.connectors.wecom_sim.callbacks import emit
from siyu.connectors.wecom_sim.server import ThreadedServer, WecomSim
from siyu.db.engine import read_only
from siyu.db.session import unit_of_work
from siyu.models import EventType, Job, WecomCallback, WecomConnection
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.connectors.wecom.conftest import ConnectCorp, Corp, event_xml

# -- a test handler that writes a real row, so processing is visible in the database ------


@handles("tests_callback_event", "write")
async def _write_event_type(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    name = f"wecom-{event.fields['Id']}"
    exists = session.scalar(
        select(EventType.id).where(EventType.workspace_id == workspace_id, EventType.name == name)
    )
    if exists is None:
        session.add(EventType(workspace_id=workspace_id, name=name, display_name="from WeCom"))
        session.flush()


@handles("tests_callback_event", "explode")
async def _explode(session: Session, workspace_id: int, _event: CallbackEvent) -> None:
    session.add(EventType(workspace_id=workspace_id, name="half-done", display_name="x"))
    session.flush()
    msg = "handler blew up"
    raise RuntimeError(msg)


@handles("tests_callback_fallback")
async def _fallback(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    session.add(
        EventType(
            workspace_id=workspace_id,
            name=f"fallback-{event.change_type}",
            display_name="any change type",
        )
    )
    session.flush()


def _rows(engine: Engine, model: Any, workspace_id: int) -> list[Any]:
    with Session(read_only(engine), expire_on_commit=False) as session:
        return list(
            session.scalars(
                select(model).where(model.workspace_id == workspace_id).order_by(model.id)
            )
        )


def _stats(client: TestClient, corp: Corp) -> dict[str, Any]:
    answer = client.get("/api/v1/wecom/callbacks/stats", headers=corp.workspace.headers)
    assert answer.status_code == 200, answer.text
    stats: dict[str, Any] = answer.json()
    return stats


def _refused_by_reason(client: TestClient, corp: Corp) -> dict[str, int]:
    return {r["reason"]: r["count"] for r in _stats(client, corp)["refused_by_reason"]}


def _connection(engine: Engine, workspace_id: int) -> WecomConnection:
    (connection,) = _rows(engine, WecomConnection, workspace_id)
    assert isinstance(connection, WecomConnection)
    return connection


# -- GET: URL verification -----------------------------------------------------------------


def _echostr_with_plus(crypto: CallbackCrypto) -> tuple[str, str]:
    for n in itertools.count(1_000_000_000_000_000_000):
        echostr = crypto.encrypt(str(n).encode())
        if "+" in echostr:
            return echostr, str(n)
    raise AssertionError


def test_url_verification_answers_the_bare_plaintext_and_marks_the_connection_verified(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    echostr, plain = _echostr_with_plus(corp.crypto)
    query = corp.signed_query(echostr)
    raw = "&".join(f"{k}={quote(v, safe='')}" for k, v in {**query, "echostr": echostr}.items())

    answer = client.get(f"{corp.url}?{raw}")

    assert answer.status_code == 200
    assert answer.content == plain.encode()
    assert answer.headers["content-type"].startswith("text/plain")
    connection = _connection(engine, corp.workspace.id)
    assert connection.status == "verified"
    assert connection.callback_verified_at is not None


def test_url_verification_keeps_a_literal_plus_in_echostr(client: TestClient, corp: Corp) -> None:
    echostr, plain = _echostr_with_plus(corp.crypto)
    query = corp.signed_query(echostr)
    raw = "&".join(f"{k}={v}" for k, v in {**query, "echostr": echostr}.items())
    assert "+" in raw

    answer = client.get(f"{corp.url}?{raw}")

    assert answer.status_code == 200
    assert answer.text == plain


def test_url_verification_with_plus_mangled_to_space_is_refused_and_counted(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    echostr, _plain = _echostr_with_plus(corp.crypto)
    query = corp.signed_query(echostr)
    mangled = echostr.replace("+", " ")
    raw = "&".join(f"{k}={quote(v, safe='')}" for k, v in {**query, "echostr": mangled}.items())

    answer = client.get(f"{corp.url}?{raw}")

    assert answer.status_code == 403
    assert _connection(engine, corp.workspace.id).status == "pending"
    assert _refused_by_reason(client, corp) == {"bad_signature": 1}


# -- POST: the inbox -----------------------------------------------------------------------


def test_verified_callback_is_stored_once_and_its_job_enqueued_in_the_realtime_lane(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    message = event_xml(corp.corp_id, "change_external_contact", "add_external_contact", Id="1")
    encrypted = corp.crypto.encrypt(message)
    query = corp.signed_query(encrypted)

    first = client.post(corp.url, params=query, content=corp.envelope(encrypted))
    # WeCom retries with a new signature and a new random prefix: still the same callback.
    again = corp.post(client, message)

    assert first.status_code == 200
    assert first.content == b""
    assert again.status_code == 200
    (stored,) = _rows(engine, WecomCallback, corp.workspace.id)
    assert stored.raw_xml == message.decode()
    assert stored.event == "change_external_contact"
    assert stored.change_type == "add_external_contact"
    assert stored.status == "received"
    (job,) = _rows(engine, Job, corp.workspace.id)
    assert job.name == "wecom.process_callback"
    assert job.lane == "realtime"
    assert job.payload == {"callback_id": stored.id}
    stats = _stats(client, corp)
    assert stats["received"] == 1
    assert stats["pending"] == 1
    assert stats["refused"] == 0


def test_callbacks_that_differ_only_in_one_field_are_both_stored(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    for tag_id in ("et1", "et2"):
        message = event_xml(corp.corp_id, "change_external_tag", "create", Id=tag_id)
        assert corp.post(client, message).status_code == 200

    assert len(_rows(engine, WecomCallback, corp.workspace.id)) == 2
    assert len(_rows(engine, Job, corp.workspace.id)) == 2


def _assert_nothing_stored(engine: Engine, corp: Corp) -> None:
    assert _rows(engine, WecomCallback, corp.workspace.id) == []
    assert _rows(engine, Job, corp.workspace.id) == []


def test_callback_with_a_flipped_signature_is_refused_and_changes_nothing(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    encrypted = corp.crypto.encrypt(event_xml(corp.corp_id, "change_external_tag", "create"))
    query = corp.signed_query(encrypted)
    query["msg_signature"] = query["msg_signature"][::-1]

    answer = client.post(corp.url, params=query, content=corp.envelope(encrypted))

    assert answer.status_code == 403
    _assert_nothing_stored(engine, corp)
    assert _refused_by_reason(client, corp) == {"bad_signature": 1}


def test_callback_encrypted_for_another_corp_is_refused(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    other = CallbackCrypto(corp.crypto.token, corp.crypto.encoding_aes_key, "wwsomeoneelse")
    encrypted = other.encrypt(event_xml("wwsomeoneelse", "change_external_tag", "create"))

    answer = client.post(
        corp.url, params=corp.signed_query(encrypted), content=corp.envelope(encrypted)
    )
    addressed_elsewhere = client.post(
        corp.url,
        params=corp.signed_query(encrypted),
        content=corp.envelope(encrypted, to_user="wwsomeoneelse"),
    )

    assert answer.status_code == 403
    assert addressed_elsewhere.status_code == 403
    _assert_nothing_stored(engine, corp)
    assert _refused_by_reason(client, corp) == {"wrong_corp": 2}


def test_undecryptable_and_malformed_callbacks_are_refused_and_counted(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    not_base64 = "this is not base64!!"
    bad_length = base64.b64encode(b"x" * 20).decode()
    answers = [
        client.post(
            corp.url, params=corp.signed_query(not_base64), content=corp.envelope(not_base64)
        ),
        client.post(
            corp.url, params=corp.signed_query(bad_length), content=corp.envelope(bad_length)
        ),
        client.post(corp.url, params=corp.signed_query("x"), content=b"<xml><Encrypt>"),
        client.post(corp.url, params=corp.signed_query("x"), content=b"<xml></xml>"),
        client.post(corp.url, content=corp.envelope("abc")),  # no signature parameters
    ]

    assert [a.status_code for a in answers] == [400, 400, 400, 400, 400]
    _assert_nothing_stored(engine, corp)
    assert _refused_by_reason(client, corp) == {
        "undecryptable": 2,
        "malformed": 2,
        "missing_params": 1,
    }


def test_xml_entities_in_the_envelope_are_refused(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<xml><Encrypt>&e;</Encrypt></xml>"
    )

    answer = client.post(corp.url, params=corp.signed_query("x"), content=body)

    assert answer.status_code == 400
    _assert_nothing_stored(engine, corp)
    assert _refused_by_reason(client, corp) == {"malformed": 1}


def test_oversized_body_is_refused(client: TestClient, corp: Corp, engine: Engine) -> None:
    answer = client.post(
        corp.url, params=corp.signed_query("x"), content=b"<xml>" + b" " * 70_000 + b"</xml>"
    )

    assert answer.status_code == 413
    _assert_nothing_stored(engine, corp)
    assert _refused_by_reason(client, corp) == {"too_large": 1}


def test_unknown_workspace_and_unconnected_workspace_are_refused(
    client: TestClient, corp: Corp, make_workspace: MakeWorkspace, engine: Engine
) -> None:
    unconnected = make_workspace()
    encrypted = corp.crypto.encrypt(event_xml(corp.corp_id, "change_external_tag", "create"))
    query = corp.signed_query(encrypted)

    unknown = client.post("/wecom/callback/no-such-ws", params=query, content=b"<xml/>")
    not_connected = client.post(
        f"/wecom/callback/{unconnected.slug}", params=query, content=corp.envelope(encrypted)
    )

    assert unknown.status_code == 404
    assert not_connected.status_code == 404
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(WecomCallback)) == 0
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_workspace_a_keys_cannot_post_into_workspace_b(
    client: TestClient, connect_corp: ConnectCorp, engine: Engine
) -> None:
    a, b = connect_corp(), connect_corp()
    message = event_xml(a.corp_id, "change_external_tag", "create", Id="et1")
    encrypted = a.crypto.encrypt(message)

    answer = client.post(b.url, params=a.signed_query(encrypted), content=a.envelope(encrypted))

    assert answer.status_code == 403
    _assert_nothing_stored(engine, a)
    _assert_nothing_stored(engine, b)
    assert _refused_by_reason(client, b) == {"bad_signature": 1}
    assert _refused_by_reason(client, a) == {}


def test_regenerated_keys_take_effect_at_once(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    message = event_xml(corp.corp_id, "change_external_tag", "create", Id="et1")
    assert corp.post(client, message).status_code == 200

    answer = client.post(
        "/api/v1/wecom/connection/callback-keys", headers=corp.workspace.headers
    ).json()
    new = CallbackCrypto(
        answer["callback"]["token"], answer["callback"]["encoding_aes_key"], corp.corp_id
    )
    old_keys = corp.post(client, event_xml(corp.corp_id, "change_external_tag", "create", Id="2"))
    corp.crypto = new
    new_keys = corp.post(client, event_xml(corp.corp_id, "change_external_tag", "create", Id="3"))

    assert old_keys.status_code == 403
    assert new_keys.status_code == 200
    assert len(_rows(engine, WecomCallback, corp.workspace.id)) == 2


# -- processing: the realtime-lane job ------------------------------------------------------


def test_job_dispatches_to_the_registered_handler_and_marks_the_callback_processed(
    client: TestClient, corp: Corp, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    message = event_xml(corp.corp_id, "tests_callback_event", "write", Id="42")
    assert corp.post(client, message).status_code == 200

    assert run_jobs() == 1

    (callback,) = _rows(engine, WecomCallback, corp.workspace.id)
    assert callback.status == "processed"
    assert callback.processed_at is not None
    assert callback.error is None
    assert [e.name for e in _rows(engine, EventType, corp.workspace.id)] == ["wecom-42"]
    assert _stats(client, corp)["processed"] == 1


def test_handler_registered_for_any_change_type_catches_the_rest(
    client: TestClient, corp: Corp, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    corp.post(client, event_xml(corp.corp_id, "tests_callback_fallback", "whatever"))

    run_jobs()

    assert [e.name for e in _rows(engine, EventType, corp.workspace.id)] == ["fallback-whatever"]


def test_unknown_events_are_marked_ignored_and_never_crash_the_worker(
    client: TestClient, corp: Corp, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    corp.post(client, event_xml(corp.corp_id, "some_future_event", "brand_new"))
    corp.post(client, b"<xml><CreateTime>1700000000</CreateTime><Event>half")

    assert run_jobs() == 2

    callbacks = {c.event: c for c in _rows(engine, WecomCallback, corp.workspace.id)}
    assert callbacks["some_future_event"].status == "ignored"
    assert callbacks[""].status == "failed"
    assert "malformed event XML" in (callbacks[""].error or "")
    assert {j.status for j in _rows(engine, Job, corp.workspace.id)} == {"succeeded"}
    stats = _stats(client, corp)
    assert (stats["ignored"], stats["failed"]) == (1, 1)


def test_failing_handler_keeps_the_error_on_the_callback_and_the_job_retries(
    client: TestClient, corp: Corp, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    corp.post(client, event_xml(corp.corp_id, "tests_callback_event", "explode"))

    run_jobs()

    (callback,) = _rows(engine, WecomCallback, corp.workspace.id)
    assert callback.status == "failed"
    assert "handler blew up" in (callback.error or "")
    (job,) = _rows(engine, Job, corp.workspace.id)
    assert job.status == "queued"
    assert job.attempts == 1
    assert "handler blew up" in (job.last_error or "")
    assert _rows(engine, EventType, corp.workspace.id) == [], "the handler's writes rolled back"


# -- the simulator pushes over real HTTP -----------------------------------------------------


def test_simulator_verifies_the_url_and_its_repeated_pushes_are_stored_once(
    engine: Engine, settings: Settings, wecom_sim: WecomSim, workspace: WorkspaceFixture
) -> None:
    with unit_of_work(engine) as session:
        connection = connect(
            session,
            workspace_id=workspace.id,
            corp_id=wecom_sim.corp_id,
            contact_secret=wecom_sim.contact_secret,
            api_base_url=wecom_sim.base_url,
        )
        crypto = crypto_for(connection)
    server = ThreadedServer(create_app(settings, engine=engine, run_worker=False))
    server.start()
    try:
        registered = wecom_sim.control.post(
            "/callback",
            json={
                "url": f"{server.base_url}/wecom/callback/{workspace.slug}",
                "token": crypto.token,
                "encoding_aes_key": crypto.encoding_aes_key,
                "verify": True,
            },
        )
        assert registered.status_code == 200, registered.text
        assert _connection(engine, workspace.id).status == "verified"

        wecom_sim.control.post("/faults", json={"duplicate_callbacks": True})
        emit(wecom_sim.state, "change_external_tag", "create", {"Id": "et1", "TagType": "tag"})
        wecom_sim.wait_for_pushes(2)
    finally:
        server.stop()

    assert [p.status for p in wecom_sim.state.pushes] == ["delivered", "delivered"]
    (stored,) = _rows(engine, WecomCallback, workspace.id)
    assert (stored.event, stored.change_type) == ("change_external_tag", "create")
    assert "<Id><![CDATA[et1]]></Id>" in stored.raw_xml
    assert len(_rows(engine, Job, workspace.id)) == 1


def test_refusal_logs_name_the_reason_but_never_keys_or_ciphertext(
    client: TestClient, corp: Corp, caplog: pytest.LogCaptureFixture
) -> None:
    encrypted = corp.crypto.encrypt(event_xml(corp.corp_id, "change_external_tag", "create"))
    query = corp.signed_query(encrypted)
    query["msg_signature"] = "0" * 40

    with caplog.at_level(logging.INFO, logger="siyu.connectors.wecom"):
        client.post(corp.url, params=query, content=corp.envelope(encrypted))

    assert "reason=bad_signature" in caplog.text
    for secret in (encrypted, encrypted[:24], corp.crypto.token, corp.crypto.encoding_aes_key):
        assert secret not in caplog.text


def test_inbox_lists_callbacks_newest_first_with_their_errors_per_workspace(
    client: TestClient,
    connect_corp: ConnectCorp,
    make_workspace: MakeWorkspace,
    run_jobs: Callable[[], int],
) -> None:
    corp, other = connect_corp(), connect_corp()
    corp.post(client, event_xml(corp.corp_id, "tests_callback_event", "write", Id="7"))
    corp.post(client, event_xml(corp.corp_id, "tests_callback_event", "explode"))
    corp.post(client, event_xml(corp.corp_id, "some_future_event"))
    other.post(client, event_xml(other.corp_id, "some_future_event"))
    run_jobs()
    url = "/api/v1/wecom/callbacks"
    headers = corp.workspace.headers

    everything = client.get(url, headers=headers).json()
    failed = client.get(url, params={"status": "failed"}, headers=headers).json()
    first_page = client.get(url, params={"limit": 2}, headers=headers).json()
    second_page = client.get(
        url, params={"limit": 2, "cursor": first_page["next_cursor"]}, headers=headers
    ).json()

    assert [(c["event"], c["status"]) for c in everything["items"]] == [
        ("some_future_event", "ignored"),
        ("tests_callback_event", "failed"),
        ("tests_callback_event", "processed"),
    ]
    (failure,) = failed["items"]
    assert failure["change_type"] == "explode"
    assert "handler blew up" in failure["error"]
    assert "<ChangeType><![CDATA[explode]]></ChangeType>" in failure["raw_xml"]
    assert [c["id"] for c in first_page["items"] + second_page["items"]] == [
        c["id"] for c in everything["items"]
    ]
    assert second_page["next_cursor"] is None
    assert client.get(url, params={"status": "odd"}, headers=headers).status_code == 422
    operator = make_workspace(role=Role.OPERATOR)
    assert client.get(url, headers=operator.headers).status_code == 403


def test_callback_is_answered_503_when_another_writer_holds_sqlite_too_long(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single-writer lock")
    message = event_xml(corp.corp_id, "change_external_tag", "create", Id="et9")

    with engine.connect() as other, other.begin():  # BEGIN IMMEDIATE: holds the write lock
        busy = corp.post(client, message)
    retried = corp.post(client, message)

    assert busy.status_code == 503
    assert retried.status_code == 200
    assert len(_rows(engine, WecomCallback, corp.workspace.id)) == 1
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        assert raw.execute("PRAGMA busy_timeout").fetchone() == (30000,)
