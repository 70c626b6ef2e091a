"""WeCom's callback URL, one per workspace: URL verification (GET) and encrypted events (POST).

A verified POST is stored raw in the inbox and its processing job is enqueued in the same
short transaction; the answer is an empty 200 (protocol.md §2.7). A callback that cannot be
trusted changes nothing but a refusal counter, and is answered with an error status so
WeCom retries it rather than it being silently dropped.
"""

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from fastapi import APIRouter, Request, Response
from prometheus_client import Counter
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from siyu.connectors.wecom import inbox
from siyu.connectors.wecom.connection import crypto_for
from siyu.connectors.wecom.crypto import CallbackCrypto, CallbackCryptoError
from siyu.connectors.wecom.events import CallbackEvent, EventParseError, parse_event
from siyu.connectors.wecom.jobs import PROCESS_CALLBACK
from siyu.kit.time import to_shanghai, utcnow
from siyu.worker.queue import REALTIME_LANE, enqueue_on_connection

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

MAX_BODY_BYTES = 64 * 1024
LOCK_WAIT_MS = 3000
CALLBACKS = Counter("siyu_wecom_callbacks_total", "WeCom callbacks by outcome", ["outcome"])

_CRYPTO_ERROR_REASONS = {-40001: "bad_signature", -40005: "wrong_corp"}
_REASON_STATUS = {
    "unknown_workspace": 404,
    "not_connected": 404,
    "bad_signature": 403,
    "wrong_corp": 403,
    "too_large": 413,
}


class Refused(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail

    @property
    def status_code(self) -> int:
        return _REASON_STATUS.get(self.reason, 400)


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


# -- request parsing --------------------------------------------------------------------


def query_params(raw_query: bytes) -> dict[str, str]:
    """Percent-decode the query string ourselves: "+" is a base64 character, never a space."""
    params: dict[str, str] = {}
    for pair in raw_query.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name:
            params[unquote(name)] = unquote(value)
    return params


def _signed_params(params: dict[str, str], *names: str) -> list[str]:
    values = [params.get(name, "") for name in names]
    if not all(values) or any(len(v) > 4096 for v in values):
        raise Refused("missing_params", f"needs {', '.join(names)}")
    return values


def _envelope(body: bytes) -> tuple[str, str | None]:
    """(Encrypt, ToUserName) from the POST body; DTDs and entities are refused."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, UnicodeDecodeError) as exc:
        raise Refused("malformed", type(exc).__name__) from exc
    encrypted = (root.findtext("Encrypt") or "").strip()
    if not encrypted:
        raise Refused("malformed", "no Encrypt element")
    to_user = root.findtext("ToUserName")
    return encrypted, None if to_user is None else to_user.strip()


def _open(
    crypto: CallbackCrypto,
    signed: list[str],
    data: str,
    to_user: str | None = None,
) -> bytes:
    """Check the signature first, then whom the envelope is addressed to, then decrypt."""
    signature, timestamp, nonce = signed[:3]
    try:
        crypto.verify(signature, timestamp, nonce, data)
        if to_user and to_user != crypto.receive_id:
            raise Refused("wrong_corp", "ToUserName is another corp")
        return crypto.decrypt(data)
    except CallbackCryptoError as exc:
        raise Refused(_CRYPTO_ERROR_REASONS.get(exc.code, "undecryptable"), exc.reason) from exc


# -- the unit of work of one callback ---------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: bytes = b""


class CallbackDatabase:
    """One short write transaction per callback.

    SQLite lets one writer in at a time and makes the others sleep in its busy handler;
    queueing this process's writes on a lock instead keeps latency flat under bursts. A
    callback waits at most LOCK_WAIT_MS for another writer (WeCom gives up after 5 s), then
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


def _refuse(db: CallbackDatabase, slug: str, workspace_id: int | None, refused: Refused) -> Outcome:
    if workspace_id is not None:
        day = to_shanghai(utcnow()).date()
        with db.write() as connection:
            inbox.count_refusal(
                connection, workspace_id=workspace_id, reason=refused.reason, day=day
            )
    CALLBACKS.labels(f"refused_{refused.reason}").inc()
    log.warning(
        "WeCom callback refused: workspace=%r reason=%s %s",
        slug[:64],
        refused.reason,
        refused.detail,
    )
    return Outcome(refused.status_code, f"refused: {refused.reason}".encode())


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
            signed = _signed_params(params, "msg_signature", "timestamp", "nonce", "echostr")
            plain = _open(crypto, signed, signed[3])
            inbox.mark_verified(connection, receiver.connection_id or 0, utcnow())
    except Refused as refused:
        return _refuse(db, slug, workspace_id, refused)
    CALLBACKS.labels("verified").inc()
    log.info("WeCom callback URL verified for workspace %r", slug)
    return Outcome(200, plain)


def receive(db: CallbackDatabase, slug: str, params: dict[str, str], body: bytes | None) -> Outcome:
    """POST: verify, decrypt, store once and enqueue processing, in one short transaction.

    `body` is None when it was larger than MAX_BODY_BYTES.
    """
    workspace_id = None
    try:
        with db.write() as connection:
            receiver, crypto = _receiver(connection, slug)
            workspace_id = receiver.workspace_id
            if body is None:
                raise Refused("too_large", f"body over {MAX_BODY_BYTES} bytes")
            signed = _signed_params(params, "msg_signature", "timestamp", "nonce")
            encrypted, to_user = _envelope(body)
            plain = _open(crypto, signed, encrypted, to_user)
            stored = _store(connection, receiver.workspace_id, plain)
    except Refused as refused:
        return _refuse(db, slug, workspace_id, refused)
    CALLBACKS.labels("stored" if stored else "duplicate").inc()
    return Outcome(200)


def _store(connection: Connection, workspace_id: int, plain: bytes) -> bool:
    """Put the callback in the inbox and enqueue its job; False if it was there already."""
    try:
        raw_xml = plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused("undecryptable", "plaintext is not UTF-8") from exc
    # A payload that decrypts but does not parse is still WeCom's: keep it, the job reports it.
    event: CallbackEvent | None
    try:
        event = parse_event(plain)
    except EventParseError:
        event = None
    callback_id = inbox.store(
        connection,
        workspace_id=workspace_id,
        dedupe_key=hashlib.sha256(plain).hexdigest(),
        event=event.event if event else "",
        change_type=event.change_type if event else None,
        raw_xml=raw_xml,
        received_at=utcnow(),
    )
    if callback_id is None:
        return False
    enqueue_on_connection(
        connection,
        PROCESS_CALLBACK,
        {"callback_id": callback_id},
        workspace_id=workspace_id,
        lane=REALTIME_LANE,
    )
    return True


# -- routes -----------------------------------------------------------------------------


def _database(request: Request) -> CallbackDatabase:
    state = request.app.state
    db: CallbackDatabase | None = getattr(state, "wecom_callback_database", None)
    if db is None:
        db = CallbackDatabase(state.engine)
        state.wecom_callback_database = db
    return db


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return None
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY_BYTES:
            return None
    return bytes(chunks)


async def _answer(work: Callable[..., Outcome], *args: Any) -> Response:
    try:
        outcome = await run_in_threadpool(work, *args)
    except OperationalError as exc:
        # Database busy (another writer held SQLite's lock too long) or unreachable.
        CALLBACKS.labels("busy").inc()
        log.warning("WeCom callback not stored, database busy: %s", type(exc.orig).__name__)
        outcome = Outcome(503, b"busy")
    return Response(outcome.body, status_code=outcome.status_code, media_type="text/plain")


@router.get("/wecom/callback/{workspace}")
async def verify_callback_url(workspace: str, request: Request) -> Response:
    params = query_params(request.scope.get("query_string", b""))
    return await _answer(verify_url, _database(request), workspace, params)


@router.post("/wecom/callback/{workspace}")
async def receive_callback(workspace: str, request: Request) -> Response:
    params = query_params(request.scope.get("query_string", b""))
    body = await _body(request)
    return await _answer(receive, _database(request), workspace, params, body)
