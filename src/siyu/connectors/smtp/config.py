"""What an SMTP account is and what one email is; plain values, no I/O."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Security = Literal["none", "starttls", "tls"]


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """One SMTP account.

    `security`: "none" (plain, port 25/1025), "starttls" (upgrade after connecting, usually
    587) or "tls" (implicit TLS from the first byte, usually 465).

    Certificates are verified against the system's CAs. A server with a certificate from a
    private CA names that CA's PEM file in `ca_file`. `verify=False` turns verification
    off entirely: only for tests and self-signed servers on a network you trust, since
    anyone in the path could then read the password.

    The password is kept out of `repr`, so a logged config never shows it.
    """

    host: str
    port: int
    from_address: str
    from_name: str = ""
    security: Security = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    max_connections: int = 4
    messages_per_connection: int = 100
    ca_file: str | None = None
    verify: bool = True

    def __post_init__(self) -> None:
        if self.security not in ("none", "starttls", "tls"):
            msg = f"security must be none, starttls or tls, not {self.security!r}"
            raise ValueError(msg)
        if self.max_connections < 1:
            msg = "max_connections must be at least 1"
            raise ValueError(msg)
        if self.messages_per_connection < 1:
            msg = "messages_per_connection must be at least 1"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Email:
    """One message to one recipient.

    `message_id` is supplied by the caller and stable across retries (for example
    `<broadcast-123.delivery-456@siyu>`), so a message sent twice is recognisable as one.
    `headers` are added as given, e.g. `List-Unsubscribe` and `List-Unsubscribe-Post`.
    """

    to_address: str
    subject: str
    text: str
    message_id: str
    to_name: str = ""
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
