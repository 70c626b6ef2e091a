"""An `Email` as MIME bytes: multipart/alternative text + HTML, attachments, headers.

Headers are encoded with the standard library's `email` package (RFC 2047 encoded words
for Chinese subjects and display names, RFC 2231 for attachment filenames). The body is
assembled here rather than by `email.generator`, which costs about 2 ms per 8 KB message
(its header registry and line-by-line writer) against about 0.1 ms here; a broadcast
renders every message once, so that is the sender's budget. The result is canonical
CRLF MIME that `email.parser` reads back part for part (the tests prove it).

Every body part is base64 (non-ASCII) or quoted-printable (ASCII, so spam filters do not
flag plain text disguised as base64). Neither encoding can produce a line starting with
"--=_", so the boundaries need no scan of the content.
"""

import base64
import binascii
import re
import secrets
import time
from email.header import Header
from email.utils import encode_rfc2231, formataddr, formatdate
from functools import lru_cache

from siyu.connectors.smtp.config import Email, SmtpConfig

# Headers this module writes itself; an email's own `headers` may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)

# RFC 5322 field names: printable ASCII except colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# One address, no display name or list: local@domain, ASCII, no spaces or brackets.
_ADDR_SPEC = re.compile(r"[^\s@<>(),;:\"\[\]\\]+@[A-Za-z0-9.-]+")
_MESSAGE_ID = re.compile(r"<[!-=?-~]+@[!-=?-~]+>")
CRLF = "\r\n"


def check_address(address: str) -> str:
    """`address` if it is one plain ASCII address (what SMTP's envelope carries)."""
    if not address.isascii() or not _ADDR_SPEC.fullmatch(address):
        msg = f"not a single plain email address: {address!r}"
        raise ValueError(msg)
    return address


def render(config: SmtpConfig, email: Email) -> bytes:
    """The whole message (headers and body, CRLF line ends); ValueError if malformed."""
    if not _MESSAGE_ID.fullmatch(email.message_id):
        msg = f"message_id must look like <unique@domain>, not {email.message_id!r}"
        raise ValueError(msg)
    lines = [
        "From: " + _mailbox(config.from_name, check_address(config.from_address)),
        "To: " + _mailbox(email.to_name, check_address(email.to_address)),
        "Subject: " + _unstructured(email.subject, "Subject"),
        "Date: " + _date(int(time.time())),
        "Message-ID: " + email.message_id,
    ]
    for name, value in email.headers.items():
        if not _FIELD_NAME.fullmatch(name) or name.lower() in RESERVED_HEADERS:
            msg = f"header {name!r} is not allowed (reserved or not a field name)"
            raise ValueError(msg)
        lines.append(f"{name}: {_unstructured(value, name)}")
    lines.append("MIME-Version: 1.0")
    body = _text_part("plain", email.text)
    if email.html is not None:
        body = _multipart("alternative", [body, _text_part("html", email.html)])
    if email.attachments:
        parts = [body]
        for attachment in email.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            if not _FIELD_NAME.fullmatch(f"{maintype}{subtype}") or not subtype:
                msg = f"attachment content_type {attachment.content_type!r} is not type/subtype"
                raise ValueError(msg)
            parts.append(
                _attachment_part(attachment.content_type, attachment.filename, attachment.content)
            )
        body = _multipart("mixed", parts)
    return CRLF.join(lines).encode("ascii") + b"\r\n" + body


def _text_part(subtype: str, text: str) -> bytes:
    canonical = text.replace("\r\n", "\n").replace("\r", "\n")
    if canonical.isascii():
        # b2a_qp keeps lines under 76 characters with soft breaks and encodes lone CRs.
        encoded = binascii.b2a_qp(canonical.encode("ascii"), istext=True).replace(b"\n", b"\r\n")
        encoding = b"quoted-printable"
        charset = b"us-ascii"
    else:
        encoded = _base64_lines(canonical.replace("\n", CRLF).encode("utf-8"))
        encoding = b"base64"
        charset = b"utf-8"
    if not encoded.endswith(b"\r\n"):
        encoded += b"\r\n"
    return (
        b"Content-Type: text/" + subtype.encode() + b'; charset="' + charset + b'"\r\n'
        b"Content-Transfer-Encoding: " + encoding + b"\r\n\r\n" + encoded
    )


def _attachment_part(content_type: str, filename: str, content: bytes) -> bytes:
    name = _parameter("filename", filename)
    return (
        f"Content-Type: {content_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; {name}\r\n\r\n"
    ).encode("ascii") + _base64_lines(content)


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = ("=_siyu_" + secrets.token_hex(12)).encode("ascii")
    delimiter = b"--" + boundary
    chunks = [
        b"Content-Type: multipart/" + subtype.encode() + b'; boundary="' + boundary + b'"\r\n\r\n'
    ]
    for part in parts:
        chunks += [delimiter, b"\r\n", part]
    chunks += [delimiter, b"--\r\n"]
    return b"".join(chunks)


def _base64_lines(data: bytes) -> bytes:
    # One C call for the whole body, then 76-character lines (encodebytes calls into C
    # once per 57 bytes, about twice as slow on an 8 KB body; `map` over slice objects
    # costs about half as much again as this list of slices, in CPU time).
    encoded = binascii.b2a_base64(data, newline=False)
    if not encoded:
        return b""
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


def _parameter(name: str, value: str) -> str:
    if (
        value.isascii()
        and '"' not in value
        and "\\" not in value
        and "\r" not in value
        and "\n" not in value
    ):
        return f'{name}="{value}"'
    return f"{name}*={encode_rfc2231(value, 'utf-8')}"


@lru_cache(maxsize=2)
def _date(second: int) -> str:
    return formatdate(second, usegmt=True)


@lru_cache(maxsize=4096)
def _mailbox(name: str, address: str) -> str:
    if name.isascii():
        # formataddr quotes names with specials
        return formataddr((name, address), charset="utf-8")
    # what formataddr writes, without its costly choice between base64 and QP
    return f"{_encoded_words(name, 'From')} <{address}>"


def _unstructured(value: str, field_name: str) -> str:
    if "\r" in value or "\n" in value:
        msg = f"header {field_name!r} may not contain a line break"
        raise ValueError(msg)
    if value.isascii():
        return _ascii_header(value, field_name)
    return _encoded_words(value, field_name)


@lru_cache(maxsize=4096)
def _ascii_header(value: str, field_name: str) -> str:
    if len(value) + len(field_name) < 76:
        return value
    if not any(c in value for c in " \t;,") and len(value) + len(field_name) < 990:
        return value  # nowhere to fold (a URL): one line, within SMTP's 998 characters
    # Header folds long values over several lines, each at most 76 characters.
    return Header(value, "us-ascii", header_name=field_name).encode(linesep=CRLF)


def _encoded_words(value: str, field_name: str) -> str:
    """RFC 2047 base64 encoded words of UTF-8, each at most 75 characters and never
    splitting a character, on folded lines of at most 76 (the first after the name)."""
    data = value.encode("utf-8")
    # bytes per word: 75 minus "=?utf-8?b?" and "?=" is 63 base64 characters, 45 bytes;
    # the first word shares its line with "Name: ".
    room = max(3, min(60, (76 - len(field_name) - 2 - 12) // 4 * 4) // 4 * 3)
    if len(data) <= room:  # one word (most names)
        return "=?utf-8?b?" + binascii.b2a_base64(data, newline=False).decode("ascii") + "?="
    words: list[bytes] = []
    start = 0
    while start < len(data):
        end = min(start + room, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        if end == start:  # a character longer than the room: give it a word of its own
            end = start + 1
            while end < len(data) and data[end] & 0xC0 == 0x80:
                end += 1
        words.append(base64.b64encode(data[start:end]))
        start = end
        room = 45
    return (b"\r\n ".join(b"=?utf-8?b?" + word + b"?=" for word in words)).decode("ascii")
