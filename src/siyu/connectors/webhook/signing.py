"""The signature on every outgoing webhook, and how a receiver checks it.

    X-Siyu-Timestamp: 1767225600
    X-Siyu-Signature: sha256=<hex HMAC-SHA256(secret, "1767225600." + raw body)>

A receiver recomputes the HMAC over the timestamp header, a dot and the raw request body
(before any JSON parsing), compares in constant time, and refuses timestamps more than
five minutes away from its clock so a captured request cannot be replayed later.
`X-Siyu-Delivery` is the idempotency key: a retried delivery carries the same one.
"""

import hashlib
import hmac
import time

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Siyu-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    signature: str,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True if `signature` is ours for this body and timestamp, and the timestamp is fresh.

    `timestamp` and `signature` are the header values as received; `body` the raw body.
    """
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = sign(secret, str(timestamp).strip(), raw)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))
