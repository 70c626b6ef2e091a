"""WeCom's callback URL, one per workspace: URL verification (GET) and encrypted events (POST).

A verified POST is stored raw in the inbox and its processing job is enqueued in the same
short transaction, which the callbacks that arrive together share; the answer is an empty
200 (protocol.md §2.7). A callback that cannot be
trusted changes nothing but a refusal counter, and is answered with an error status so
WeCom retries it rather than it being silently dropped.
"""

import asyncio
import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import Counter
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from siyu.connectors.wecom import inbox
from siyu.connectors.wecom.callback_parsing import (
    Refused,
    envelope,
    event_names,
    open_envelope,
    query_params,
    signed_params,
)
from siyu.connectors.wecom.connection import crypto_for
from siyu.connectors.wecom.crypto import CallbackCrypto, CallbackCryptoError
from siyu.connectors.wecom.jobs import PROCESS_CALLBACK
from siyu.kit.time import to_shanghai, utcnow
from siyu.worker.queue import REALTIME_LANE, enqueue_many_on_connection

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
LOCK_WAIT_MS = 3000
CALLBACKS = Counter("siyu_wecom_callbacks_total", "WeCom callbacks by outcome", ["outcome"])

# -- crypto cache -----------------------------------------------------------------------

_crypto_cache: dict[int, tuple[datetime | None, CallbackCrypto]] = {}
_crypto_lock = threading.Lock()


def _crypto(connection: Connection, receiver: inbox.Receiver) -> CallbackCrypto:
    """The connection's crypto, decrypted from the database once per version of the row."""
    assert receiver.connection_id is not None
    cached = _crypto_cache.get(receiver.connection_id)
    if cached is not None and cached[0] == receiver.updated_at:
        return cached[1]
    stored = inbox.load_connection(connection, receiver.connection_id)
    if stored is None:
        raise Refused("not_connected")
    try:
        crypto = crypto_for(stored)
    except CallbackCryptoError as exc:
        raise Refused("not_connected", exc.reason) from exc
    with _crypto_lock:
        _crypto_cache[receiver.connection_id] = (receiver.updated_at, crypto)
    return crypto


def forget_cached_keys() -> None:
    """Drop every cached crypto (tests; keys also reload whenever the row changes)."""
    with _crypto_lock:
        _crypto_cache.clear()


# -- the unit of work of callbacks -----------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: bytes = b""


class CallbackDatabase:
    """Short write transactions for callbacks.

    SQLite lets one writer in at a time and makes the others sleep in its busy handler;
    queueing this process's writes on a lock instead keeps latency flat under bursts. A
    write waits at most LOCK_WAIT_MS for another writer (WeCom gives up after 5 s), then
    is answered 503 so WeCom sends it again.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.lock = threading.Lock() if self.sqlite else None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.lock or nullcontext(), self.engine.connect() as connection:
            if not self.sqlite:
                with connection.begin():
                    yield connection
                return
            raw = connection.connection.dbapi_connection
            assert raw is not None
            (previous,) = raw.execute("PRAGMA busy_timeout").fetchone()
            raw.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
            try:
                with connection.begin():
                    yield connection
            finally:
                raw.execute(f"PRAGMA busy_timeout = {int(previous)}")


def _note_refusal(slug: str, refused: Refused) -> Outcome:
    """Count and log a refusal (never with keys or ciphertext); its answer."""
    CALLBACKS.labels(f"refused_{refused.reason}").inc()
    log.warning(
        "WeCom callback refused: workspace=%r reason=%s %s",
        slug[:64],
        refused.reason,
        refused.detail,
    )
    return Outcome(refused.status_code, f"refused: {refused.reason}".encode())


def _count_refusal(connection: Connection, workspace_id: int | None, refused: Refused) -> None:
    if workspace_id is not None:
        day = to_shanghai(utcnow()).date()
        inbox.count_refusal(connection, workspace_id=workspace_id, reason=refused.reason, day=day)


def _receiver(connection: Connection, slug: str) -> tuple[inbox.Receiver, CallbackCrypto]:
    receiver = inbox.receiver(connection, slug)
    if receiver is None:
        raise Refused("unknown_workspace")
    if receiver.connection_id is None:
        raise Refused("not_connected")
    return receiver, _crypto(connection, receiver)


def verify_url(db: CallbackDatabase, slug: str, params: dict[str, str]) -> Outcome:
    """GET: answer WeCom's URL verification with the bare decrypted echostr."""
    workspace_id = None
    try:
        with db.write() as connection:
            receiver, crypto = _receiver(connection, slug)
            workspace_id = receiver.workspace_id
            signed = signed_params(params, "msg_signature", "timestamp", "nonce", "echostr")
            plain = open_envelope(crypto, signed, signed[3])
            inbox.mark_verified(connection, receiver.connection_id or 0, utcnow())
    except Refused as refused:
        with db.write() as connection:
            _count_refusal(connection, workspace_id, refused)
        return _note_refusal(slug, refused)
    CALLBACKS.labels("verified").inc()
    log.info("WeCom callback URL verified for workspace %r", slug)
    return Outcome(200, plain)


@dataclass(frozen=True)
class Posted:
    """One POST as received; `body` is None when it was larger than MAX_BODY_BYTES."""

    slug: str
    params: dict[str, str]
    body: bytes | None


_ACCEPTED = Outcome(200)


def receive(db: CallbackDatabase, batch: list[Posted]) -> list[Outcome]:
    """POST: verify, decrypt, store once and enqueue processing, each callback answered on
    its own; callbacks that arrived together share one short transaction."""
    refusals: list[tuple[int, Refused]] = []
    with db.write() as connection:
        receivers: dict[str, tuple[inbox.Receiver, CallbackCrypto] | Refused] = {}
        accepted: list[tuple[int, bytes]] = []
        for index, posted in enumerate(batch):
            workspace_id = None
            try:
                receiver, crypto = _batch_receiver(connection, receivers, posted.slug)
                workspace_id = receiver.workspace_id
                accepted.append((receiver.workspace_id, _plaintext(crypto, posted)))
            except Refused as refused:
                _count_refusal(connection, workspace_id, refused)
                refusals.append((index, refused))
        stored = _store(connection, accepted)
    outcomes = [_ACCEPTED] * len(batch)
    for index, refusal in refusals:
        outcomes[index] = _note_refusal(batch[index].slug, refusal)
    CALLBACKS.labels("stored").inc(stored)
    CALLBACKS.labels("duplicate").inc(len(accepted) - stored)
    return outcomes


def _batch_receiver(
    connection: Connection,
    receivers: dict[str, tuple[inbox.Receiver, CallbackCrypto] | Refused],
    slug: str,
) -> tuple[inbox.Receiver, CallbackCrypto]:
    """`_receiver`, looked up once per workspace in a batch."""
    found = receivers.get(slug)
    if found is None:
        try:
            found = _receiver(connection, slug)
        except Refused as unknown:
            found = unknown
        receivers[slug] = found
    if isinstance(found, Refused):
        raise Refused(found.reason, found.detail)
    return found


def _plaintext(crypto: CallbackCrypto, posted: Posted) -> bytes:
    if posted.body is None:
        raise Refused("too_large", f"body over {MAX_BODY_BYTES} bytes")
    signed = signed_params(posted.params, "msg_signature", "timestamp", "nonce")
    encrypted, to_user = envelope(posted.body)
    plain = open_envelope(crypto, signed, encrypted, to_user)
    try:
        plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused("undecryptable", "plaintext is not UTF-8") from exc
    return plain


def _store(connection: Connection, accepted: list[tuple[int, bytes]]) -> int:
    """Put the callbacks in the inbox and enqueue a job for each new one; how many were new."""
    received_at = utcnow()
    new: dict[tuple[int, str], inbox.NewCallback] = {}
    for workspace_id, plain in accepted:
        key = (workspace_id, hashlib.sha256(plain).hexdigest())
        if key in new:
            continue  # WeCom sent it twice within one batch
        event, change_type = event_names(plain)
        new[key] = inbox.NewCallback(
            workspace_id=workspace_id,
            dedupe_key=key[1],
            event=event,
            change_type=change_type,
            raw_xml=plain.decode("utf-8"),
            received_at=received_at,
        )
    if not new:
        return 0
    ids = inbox.store_many(connection, list(new.values()))
    jobs = [
        (workspace_id, {"callback_id": ids[workspace_id, key]})
        for workspace_id, key in new
        if (workspace_id, key) in ids
    ]
    if jobs:
        enqueue_many_on_connection(connection, PROCESS_CALLBACK, jobs, lane=REALTIME_LANE)
    return len(jobs)


# -- batching -----------------------------------------------------------------------------

MAX_BATCH = 100
POSTGRESQL_WRITERS = 2
_BUSY = Outcome(503, b"busy")
_FAILED = Outcome(500, b"internal error")


class Batches:
    """Group commit of the callbacks one event loop receives.

    A callback that arrives while every writer is busy waits for the next free one, which
    takes everything waiting (up to MAX_BATCH) into one transaction: under load one thread
    hop and one commit serve many callbacks; a callback that arrives alone is written at
    once. SQLite has one writer (it admits one at a time anyway); PostgreSQL several, so
    their commits' waits for the disk overlap.
    """

    def __init__(self, db: CallbackDatabase) -> None:
        self.db = db
        self.loop = asyncio.get_running_loop()
        self.waiting: list[tuple[Posted, asyncio.Future[Outcome]]] = []
        self.writers: set[asyncio.Task[None]] = set()
        self.max_writers = 1 if db.sqlite else POSTGRESQL_WRITERS

    async def receive(self, posted: Posted) -> Outcome:
        answer: asyncio.Future[Outcome] = self.loop.create_future()
        self.waiting.append((posted, answer))
        if len(self.writers) < self.max_writers:
            self.writers.add(self.loop.create_task(self._write()))
        return await answer

    async def _write(self) -> None:
        batch: list[tuple[Posted, asyncio.Future[Outcome]]] = []
        try:
            while self.waiting:
                batch = self.waiting[:MAX_BATCH]
                del self.waiting[:MAX_BATCH]
                outcomes = await self._outcomes([posted for posted, _ in batch])
                for (_, answer), outcome in zip(batch, outcomes, strict=True):
                    if not answer.done():
                        answer.set_result(outcome)
        finally:
            # At once, not in a done callback: a callback that arrives next must find
            # this writer gone, or it could wait for a writer that has already left.
            self.writers.discard(asyncio.current_task())
            for _, answer in batch:
                answer.cancel()  # only when the loop is being torn down mid-batch

    async def _outcomes(self, batch: list[Posted]) -> list[Outcome]:
        try:
            return await run_in_threadpool(receive, self.db, batch)
        except OperationalError as exc:
            # Database busy (another writer held SQLite's lock too long) or unreachable.
            CALLBACKS.labels("busy").inc(len(batch))
            log.warning("WeCom callbacks not stored, database busy: %s", type(exc.orig).__name__)
            return [_BUSY] * len(batch)
        except Exception:
            CALLBACKS.labels("failed").inc(len(batch))
            log.exception("WeCom callbacks not stored")
            return [_FAILED] * len(batch)


# -- routes -----------------------------------------------------------------------------


def _database(state: State) -> CallbackDatabase:
    db: CallbackDatabase | None = getattr(state, "wecom_callback_database", None)
    if db is None:
        db = CallbackDatabase(state.engine)
        state.wecom_callback_database = db
    return db


def _batches(state: State) -> Batches:
    batches: Batches | None = getattr(state, "wecom_callback_batches", None)
    if batches is None or batches.loop is not asyncio.get_running_loop():
        batches = Batches(_database(state))
        state.wecom_callback_batches = batches
    return batches


async def _body(scope: Scope, receive: Receive) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY_BYTES):
            return None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            return bytes(body)


async def _send(send: Send, outcome: Outcome) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": outcome.status_code,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(outcome.body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": outcome.body})


class _ReceiveCallback:
    """POST, served as a bare ASGI app (Starlette's way with an endpoint that is not a
    function): FastAPI's request parsing and dependency solving would cost more than the
    callback's own work."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = _RECEIVE  # FastAPI records only its own routes; metrics need this
        body = await _body(scope, receive)
        params = query_params(scope.get("query_string", b""))
        posted = Posted(scope["path_params"]["workspace"], params, body)
        await _send(send, await _batches(scope["app"].state).receive(posted))


PATH = "/wecom/callback/{workspace}"
_RECEIVE = Route(PATH, _ReceiveCallback(), methods=["POST"], include_in_schema=False)
router = APIRouter(include_in_schema=False, routes=[_RECEIVE])


@router.get(PATH)
async def verify_callback_url(workspace: str, request: Request) -> Response:
    params = query_params(request.scope.get("query_string", b""))
    try:
        outcome = await run_in_threadpool(
            verify_url, _database(request.app.state), workspace, params
        )
    except OperationalError as exc:
        CALLBACKS.labels("busy").inc()
        log.warning("WeCom URL verification failed, database busy: %s", type(exc.orig).__name__)
        outcome = _BUSY
    return Response(outcome.body, status_code=outcome.status_code, media_type="text/plain")
