"""Aliyun RPC signature V1 (HMAC-SHA1), as Dysmsapi 2017-05-25 checks it.

StringToSign = METHOD + "&" + pe("/") + "&" + pe(canonicalized query), where the
canonicalized query is every parameter but `Signature`, sorted by name, each name and
value percent-encoded (RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are, space is
%20) and joined with = and &. The key is AccessKeySecret + "&"; the signature is the
base64 of the HMAC-SHA1 digest. Shared by the client and the simulator.
"""

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def percent_encode(value: str) -> str:
    """Aliyun's percent-encoding: URL-encode then + → %20, * → %2A, %7E → ~ (RFC 3986)."""
    return quote(value, safe="~")


def canonicalized_query(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}"
        for name in sorted(params)
        if name != "Signature"
    )


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonicalized_query(params))}"


def signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """base64(HMAC-SHA1(secret + "&", StringToSign))."""
    digest = hmac.new(
        f"{access_key_secret}&".encode(),
        string_to_sign(method, params).encode(),
        hashlib.sha1,
    ).digest()
    return base64.b64encode(digest).decode()


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC, e.g. 2026-12-06T12:00:00Z."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def sign_request(
    method: str,
    params: Mapping[str, str],
    access_key_id: str,
    access_key_secret: str,
    *,
    nonce: str | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """`params` plus the common signing parameters and `Signature`."""
    signed = {
        **params,
        "AccessKeyId": access_key_id,
        "SignatureMethod": SIGNATURE_METHOD,
        "SignatureVersion": SIGNATURE_VERSION,
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": timestamp(at),
    }
    signed["Signature"] = signature(method, signed, access_key_secret)
    return signed
