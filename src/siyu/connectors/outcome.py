"""What a channel provider said about one outgoing message."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """`ok` means the provider accepted the message; `retryable` failures may be tried again.

    `in_doubt`: the request went out but no answer came back (a timeout, a dropped
    connection), so the provider may have accepted it. `retry_after`: seconds the provider
    asked us to wait. `pause`: the provider refuses every message for now (throttled,
    overloaded, out of balance), so a sender stops its pass instead of trying the rest.
    """

    ok: bool
    provider_id: str | None = None
    retryable: bool = False
    code: str | None = None
    reason: str | None = None
    in_doubt: bool = False
    retry_after: float | None = None
    pause: bool = False
