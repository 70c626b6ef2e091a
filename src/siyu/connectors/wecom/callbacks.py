"""WeCom's callback URL, one per workspace: URL verification (GET) and encrypted events (POST).

A verified POST is stored raw in the inbox and its processing job is enqueued in the same
short transaction; the answer is an empty 200 (protocol.md §2.7). A callback that cannot be
trusted changes nothing but a refusal counter, and is answered with an error status so
WeCom retries it rather than it being silently dropped.
"""

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from fastapi import APIRouter, Request, Response
from prometheus_client import Counter
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from siyu.connectors.wecom import inbox
from siyu.connectors.wecom.connection import crypto_for, mark_verified
from siyu.connectors.wecom.crypto import CallbackCrypto, CallbackCryptoError
from siyu.connectors.wecom.events import EventParseError, parse_event
from siyu.connectors.wecom.jobs import PROCESS_CALLBACK
from siyu.db.session import session_factory
from siyu.kit.time import to_shanghai, utcnow
from siyu.worker.queue import REALTIME_LANE, enqueue

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

MAX_BODY_BYTES = 64 * 1024
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


def _crypto(session: Session, receiver: inbox.Receiver) -> CallbackCrypto:
    """The connection's crypto, decrypted from the database once per version of the row."""
    assert receiver.connection_id is not None
    cached = _crypto_cache.get(receiver.connection_id)
    if cached is not None and cached[0] == receiver.updated_at:
        return cached[1]
    connection = inbox.connection(session, receiver.connection_id)
    if connection is None:
        raise Refused("not_connected")
    try:
        crypto = crypto_for(connection)
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
    reason: str | None = None


def _refuse(session: Session, slug: str, workspace_id: int | None, refused: Refused) -> Outcome:
    session.rollback()
    if workspace_id is not None:
        day = to_shanghai(utcnow()).date()
        inbox.count_refusal(session, workspace_id=workspace_id, reason=refused.reason, day=day)
        session.commit()
    CALLBACKS.labels(f"refused_{refused.reason}").inc()
    log.warning(
        "WeCom callback refused: workspace=%r reason=%s %s",
        slug[:64],
        refused.reason,
        refused.detail,
    )
    return Outcome(refused.status_code, f"refused: {refused.reason}".encode(), refused.reason)


def _receiver(session: Session, slug: str) -> inbox.Receiver:
    receiver = inbox.receiver(session, slug)
    if receiver is None:
        raise Refused("unknown_workspace")
    if receiver.connection_id is None:
        raise Refused("not_connected")
    return receiver


def verify_url(sessions: sessionmaker[Session], slug: str, params: dict[str, str]) -> Outcome:
    """GET: answer WeCom's URL verification with the bare decrypted echostr."""
    with sessions() as session:
        workspace_id = None
        try:
            receiver = _receiver(session, slug)
            workspace_id = receiver.workspace_id
            signed = _signed_params(params, "msg_signature", "timestamp", "nonce", "echostr")
            plain = _open(_crypto(session, receiver), signed, signed[3])
            connection = inbox.connection(session, receiver.connection_id or 0)
            assert connection is not None
            mark_verified(connection, utcnow())
            session.commit()
        except Refused as refused:
            return _refuse(session, slug, workspace_id, refused)
    CALLBACKS.labels("verified").inc()
    log.info("WeCom callback URL verified for workspace %r", slug)
    return Outcome(200, plain)


def receive(
    sessions: sessionmaker[Session], slug: str, params: dict[str, str], body: bytes | None
) -> Outcome:
    """POST: verify, decrypt, store once, enqueue processing; all in one short transaction.

    `body` is None when it was larger than MAX_BODY_BYTES.
    """
    with sessions() as session:
        workspace_id = None
        try:
            receiver = _receiver(session, slug)
            workspace_id = receiver.workspace_id
            if body is None:
                raise Refused("too_large", f"body over {MAX_BODY_BYTES} bytes")
            signed = _signed_params(params, "msg_signature", "timestamp", "nonce")
            encrypted, to_user = _envelope(body)
            plain = _open(_crypto(session, receiver), signed, encrypted, to_user)
            try:
                raw_xml = plain.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Refused("undecryptable", "plaintext is not UTF-8") from exc
            outcome = _store(session, receiver.workspace_id, plain, raw_xml)
            session.commit()
        except Refused as refused:
            return _refuse(session, slug, workspace_id, refused)
    CALLBACKS.labels(outcome).inc()
    return Outcome(200)


def _store(session: Session, workspace_id: int, plain: bytes, raw_xml: str) -> str:
    # A payload that decrypts but does not parse is still WeCom's: keep it, the job reports it.
    event: Any
    try:
        event = parse_event(plain)
    except EventParseError:
        event = None
    callback_id = inbox.store(
        session,
        workspace_id=workspace_id,
        dedupe_key=hashlib.sha256(plain).hexdigest(),
        event=event.event if event else "",
        change_type=event.change_type if event else None,
        raw_xml=raw_xml,
        received_at=utcnow(),
    )
    if callback_id is None:
        return "duplicate"
    enqueue(
        session,
        PROCESS_CALLBACK,
        {"callback_id": callback_id},
        workspace_id=workspace_id,
        lane=REALTIME_LANE,
    )
    return "stored"


# -- routes -----------------------------------------------------------------------------


def _sessions(request: Request) -> sessionmaker[Session]:
    state = request.app.state
    maker: sessionmaker[Session] | None = getattr(state, "wecom_callback_sessions", None)
    if maker is None:
        maker = session_factory(state.engine)
        state.wecom_callback_sessions = maker
    return maker


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


def _response(outcome: Outcome) -> Response:
    return Response(outcome.body, status_code=outcome.status_code, media_type="text/plain")


@router.get("/wecom/callback/{workspace}")
async def verify_callback_url(workspace: str, request: Request) -> Response:
    params = query_params(request.scope.get("query_string", b""))
    outcome = await run_in_threadpool(verify_url, _sessions(request), workspace, params)
    return _response(outcome)


@router.post("/wecom/callback/{workspace}")
async def receive_callback(workspace: str, request: Request) -> Response:
    params = query_params(request.scope.get("query_string", b""))
    body = await _body(request)
    outcome = await run_in_threadpool(receive, _sessions(request), workspace, params, body)
    return _response(outcome)
