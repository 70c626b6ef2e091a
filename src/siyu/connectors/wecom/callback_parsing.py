"""Reading a WeCom callback request: query string, envelope, signature, decryption and
the decrypted event's names. What cannot be trusted raises Refused, naming the reason."""

from urllib.parse import unquote
from xml.parsers.expat import ExpatError, ParserCreate

from siyu.connectors.wecom.crypto import CallbackCrypto, CallbackCryptoError

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


def query_params(raw_query: bytes) -> dict[str, str]:
    """Percent-decode the query string ourselves: "+" is a base64 character, never a space."""
    params: dict[str, str] = {}
    for pair in raw_query.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name:
            params[unquote(name)] = unquote(value)
    return params


def signed_params(params: dict[str, str], *names: str) -> list[str]:
    values = [params.get(name, "") for name in names]
    if not all(values) or any(len(v) > 4096 for v in values):
        raise Refused("missing_params", f"needs {', '.join(names)}")
    return values


class _Malformed(Exception):
    """XML we do not read; the message names why."""


def _refuse_doctype(*_: object) -> None:
    raise _Malformed("DOCTYPE")


def _child_texts(xml: bytes, names: frozenset[str]) -> dict[str, str]:
    """The stripped text of the root's first child of each of `names`, read with expat
    alone (an ElementTree of these flat documents costs twice as much).

    A DOCTYPE is refused before anything in it is read, so no entity can be declared:
    nothing expands and nothing external is fetched (no XXE, no billion laughs).
    Raises _Malformed.
    """
    texts: dict[str, str] = {}
    parts: list[str] = []
    depth = 0
    reading = False

    def start(name: str, _attributes: dict[str, str]) -> None:
        nonlocal depth, reading
        depth += 1
        reading = depth == 2 and name in names and name not in texts
        parts.clear()

    def end(name: str) -> None:
        nonlocal depth, reading
        if reading:
            texts[name] = "".join(parts).strip()
        reading = False
        depth -= 1

    def data(text: str) -> None:
        if reading:
            parts.append(text)

    parser = ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(xml, True)
    # An encoding declaration that names no codec (LookupError) or one expat cannot use
    # (ValueError, e.g. multi-byte or not a text encoding) fails outside ExpatError.
    except (ExpatError, LookupError, ValueError) as exc:
        raise _Malformed(type(exc).__name__) from exc
    return texts


_ENVELOPE = frozenset({"Encrypt", "ToUserName"})
_EVENT_NAMES = frozenset({"Event", "MsgType", "ChangeType"})


def envelope(body: bytes) -> tuple[str, str | None]:
    """(Encrypt, ToUserName) from the POST body; DTDs and entities are refused."""
    try:
        texts = _child_texts(body, _ENVELOPE)
    except _Malformed as exc:
        raise Refused("malformed", str(exc)) from exc
    encrypted = texts.get("Encrypt", "")
    if not encrypted:
        raise Refused("malformed", "no Encrypt element")
    return encrypted, texts.get("ToUserName")


def event_names(plain: bytes) -> tuple[str, str | None]:
    """(event, change type) for the inbox's columns; ("", None) if the XML does not parse
    (the callback is still WeCom's: it is kept and its job reports the error)."""
    try:
        texts = _child_texts(plain, _EVENT_NAMES)
    except _Malformed:
        return "", None
    # App messages carry no Event; their MsgType (text, image…) names them instead.
    return texts.get("Event") or texts.get("MsgType") or "", texts.get("ChangeType") or None


def open_envelope(
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
