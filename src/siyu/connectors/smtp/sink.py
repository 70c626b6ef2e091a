"""A mailbox for the demo: an SMTP server that keeps every message as an .eml file.

`siyu demo` starts a `MailSink` so demo broadcasts have somewhere to go, and the demo
mailbox page reads it back with `list_messages`. The server is aiosmtpd in a thread of
its own; it accepts any sender and recipient and never relays.
"""

import re
import threading
import time
import uuid
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

PREVIEW_CHARS = 120
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


class _Store:
    """aiosmtpd handler: write the message to a file named so that names sort by arrival."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(  # noqa: N802 - the hook name aiosmtpd calls
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(content)
        partial.rename(self.directory / f"{name}.eml")  # readers never see half a message
        with self._lock:
            self.count += 1
        return "250 2.0.0 OK: stored"


class MailSink:
    """`sink = MailSink("127.0.0.1", 1025, Path("var/mail")); sink.start(); ...; sink.stop()`."""

    def __init__(self, host: str, port: int, directory: Path | str) -> None:
        self.host = host
        self.port = port
        self.directory = Path(directory)
        self._store = _Store(self.directory)
        self._controller: Controller | None = None

    @property
    def count(self) -> int:
        """Messages received since `start`."""
        return self._store.count

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        controller = Controller(
            self._store, hostname=self.host, port=self.port, server_hostname="siyu-demo-sink"
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> "MailSink":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def list_messages(directory: Path | str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest `limit` messages: id, from, to, subject, date (ISO 8601), text preview."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.eml"), reverse=True)[: max(limit, 0)]
    parser = BytesParser(policy=policy.default)
    messages = []
    for path in files:
        with path.open("rb") as handle:
            message = parser.parse(handle)
        assert isinstance(message, EmailMessage)
        messages.append(
            {
                "id": path.stem,
                "from": str(message.get("From", "")),
                "to": str(message.get("To", "")),
                "subject": str(message.get("Subject", "")),
                "date": _date(message, path),
                "preview": _preview(message),
            }
        )
    return messages


def _date(message: EmailMessage, path: Path) -> str:
    header = message.get("Date")
    if header:
        try:
            return parsedate_to_datetime(str(header)).isoformat()
        except (TypeError, ValueError):
            pass
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat()


def _preview(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        text = str(body.get_content())
    except (LookupError, ValueError):
        return ""
    if body.get_content_subtype() == "html":
        text = _TAGS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()[:PREVIEW_CHARS]
