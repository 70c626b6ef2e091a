"""Callbacks that arrive together are written together, and each is still answered on its own."""

import asyncio
from collections.abc import Callable, Iterator

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.app import create_app
from siyu.config import Settings
from siyu.connectors.wecom.callbacks import CallbackDatabase, Posted, receive
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.db.engine import read_only
from siyu.models import Job, WecomCallback, WecomCallbackRefusal
from tests.connectors.wecom.conftest import ConnectCorp, Corp, event_xml


def _posted(corp: Corp, message: bytes, *, forged: bool = False) -> Posted:
    """What WeCom would POST for `message`: a fresh random prefix and nonce every time."""
    encrypted = corp.crypto.encrypt(message)
    params = corp.signed_query(encrypted)
    if forged:
        params["msg_signature"] = params["msg_signature"][::-1]
    return Posted(corp.workspace.slug, params, corp.envelope(encrypted))


def _inbox(engine: Engine, workspace_id: int) -> tuple[list[WecomCallback], list[Job]]:
    with Session(read_only(engine)) as session:
        callbacks = session.scalars(
            select(WecomCallback)
            .where(WecomCallback.workspace_id == workspace_id)
            .order_by(WecomCallback.id)
        ).all()
        jobs = session.scalars(
            select(Job).where(Job.workspace_id == workspace_id).order_by(Job.id)
        ).all()
        return list(callbacks), list(jobs)


def _refusals(engine: Engine, workspace_id: int) -> dict[str, int]:
    with Session(read_only(engine)) as session:
        rows = session.scalars(
            select(WecomCallbackRefusal).where(WecomCallbackRefusal.workspace_id == workspace_id)
        )
        return {row.reason: row.count for row in rows}


def _declaring(encoding: str) -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?><xml><Encrypt>x</Encrypt></xml>'.encode()


def test_callbacks_written_together_are_each_answered_on_their_own(
    connect_corp: ConnectCorp, engine: Engine
) -> None:
    a, b = connect_corp(), connect_corp()
    earlier = event_xml(a.corp_id, "change_external_tag", "create", Id="earlier")
    first = event_xml(a.corp_id, "change_external_contact", "add_external_contact", Id="1")
    other = event_xml(b.corp_id, "change_external_tag", "delete", Id="2")
    db = CallbackDatabase(engine)
    assert receive(db, [_posted(a, earlier)])[0].status_code == 200

    outcomes = receive(
        db,
        [
            _posted(a, first),
            _posted(a, first),  # WeCom's retry in the same batch
            _posted(a, earlier),  # already in the inbox
            _posted(a, first, forged=True),
            _posted(b, other),
            Posted("no-such-workspace", {}, b"<xml/>"),
            Posted(a.workspace.slug, {}, None),  # over the body limit
            Posted(a.workspace.slug, a.signed_query("x"), _declaring("rot13")),
        ],
    )

    assert [o.status_code for o in outcomes] == [200, 200, 200, 403, 200, 404, 413, 400]
    assert outcomes[3].body == b"refused: bad_signature"
    callbacks, jobs = _inbox(engine, a.workspace.id)
    assert [c.raw_xml for c in callbacks] == [earlier.decode(), first.decode()]
    assert (callbacks[1].event, callbacks[1].change_type) == (
        "change_external_contact",
        "add_external_contact",
    )
    assert [j.payload for j in jobs] == [{"callback_id": c.id} for c in callbacks]
    assert {j.lane for j in jobs} == {"realtime"}
    (stored_b,), (job_b,) = _inbox(engine, b.workspace.id)
    assert (stored_b.raw_xml, job_b.payload) == (other.decode(), {"callback_id": stored_b.id})
    assert _refusals(engine, a.workspace.id) == {
        "bad_signature": 1,
        "too_large": 1,
        "malformed": 1,
    }
    assert _refusals(engine, b.workspace.id) == {}


def test_concurrent_callbacks_over_http_are_stored_once_each_with_one_job(
    connect_corp: ConnectCorp, engine: Engine, settings: Settings
) -> None:
    corp = connect_corp()
    messages = [
        event_xml(corp.corp_id, "change_external_tag", "create", Id=str(n)) for n in range(30)
    ]
    # Every callback twice (WeCom retries), and a forged one for each, all at once.
    posts = [_posted(corp, m) for m in messages for _ in range(2)]
    posts += [_posted(corp, m, forged=True) for m in messages]
    server = ThreadedServer(create_app(settings, engine=engine, run_worker=False))
    server.start()

    async def post_all() -> list[int]:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            answers = await asyncio.gather(
                *(http.post(corp.url, params=p.params, content=p.body or b"") for p in posts)
            )
        return [a.status_code for a in answers]

    try:
        statuses = asyncio.run(post_all())
    finally:
        server.stop()

    assert statuses == [200] * 60 + [403] * 30
    callbacks, jobs = _inbox(engine, corp.workspace.id)
    assert sorted(c.raw_xml for c in callbacks) == sorted(m.decode() for m in messages)
    assert sorted(j.payload["callback_id"] for j in jobs) == [c.id for c in callbacks]
    assert _refusals(engine, corp.workspace.id) == {"bad_signature": 30}


def _chunks(size: int) -> Iterator[bytes]:
    yield b"<xml>"
    for _ in range(size // 8192):
        yield b" " * 8192
    yield b"</xml>"


def test_a_body_without_length_is_cut_off_at_the_limit(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    answer = client.post(corp.url, params=corp.signed_query("x"), content=_chunks(70_000))

    assert answer.status_code == 413
    assert _inbox(engine, corp.workspace.id) == ([], [])
    assert _refusals(engine, corp.workspace.id) == {"too_large": 1}


def test_envelopes_in_encodings_expat_cannot_read_are_refused_as_malformed(
    client: TestClient, corp: Corp, engine: Engine
) -> None:
    encodings = ["no-such-codec", "rot13", "gbk", "idna", "punycode"]

    answers = [
        client.post(corp.url, params=corp.signed_query("x"), content=_declaring(encoding))
        for encoding in encodings
    ]

    assert [a.status_code for a in answers] == [400] * len(encodings)
    assert _refusals(engine, corp.workspace.id) == {"malformed": len(encodings)}


def test_a_decrypted_event_with_a_doctype_is_kept_unnamed_and_its_job_reports_it(
    client: TestClient, corp: Corp, engine: Engine, run_jobs: Callable[[], int]
) -> None:
    message = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "boom">]>'
        b"<xml><CreateTime>1700000000</CreateTime><Event>&e;</Event></xml>"
    )

    assert corp.post(client, message).status_code == 200
    run_jobs()

    (callback,), _ = _inbox(engine, corp.workspace.id)
    assert (callback.event, callback.change_type) == ("", None)
    assert callback.status == "failed"
    assert "malformed event XML" in (callback.error or "")


def test_callback_requests_are_counted_under_their_route(client: TestClient, corp: Corp) -> None:
    assert corp.post(client, event_xml(corp.corp_id, "change_external_tag", "create")).is_success

    metrics = client.get("/metrics").text

    assert (
        'siyu_http_requests_total{method="POST",route="/wecom/callback/{workspace}",status="200"}'
        in metrics
    )
