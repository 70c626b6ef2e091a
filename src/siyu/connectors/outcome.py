"""What a channel provider said about one outgoing message."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """`ok` means the provider accepted the message; `retryable` failures may be tried again."""

    ok: bool
    provider_id: str | None = None
    retryable: bool = False
    code: str | None = None
    reason: str | None = None
