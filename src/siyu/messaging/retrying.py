"""When a send pass stops early, and how long until the next one: backoff, jitter, Retry-After.

A pass sends every pending delivery of a broadcast once; a retryable failure goes back to
pending for the next pass. The next pass runs after the longest wait any failure of
this pass asks for:
- backoff that grows with the delivery's attempts, BASE × 2^(attempt − 1), at most CAP,
  jittered by ±JITTER of itself so broadcasts that failed together do not retry together;
- never less than what the provider asked for: a webhook receiver's Retry-After, the
  window of Aliyun's per-number flow control, a wait for an empty balance (honoured up to
  MAX_RETRY_AFTER).
A pass stops early, leaving the rest pending and untried, when the provider refuses
everything for now (`SendOutcome.pause`: API throttling, 429 or 503, no balance) or when
a whole batch failed without one message getting through (the provider is down): trying
the rest now would only spend their attempts.
"""

import random
from collections.abc import Mapping, Sequence

from siyu.connectors.outcome import SendOutcome
from siyu.models import Delivery

BASE_SECONDS = 30.0
CAP_SECONDS = 3600.0
JITTER = 0.25
MAX_RETRY_AFTER_SECONDS = 86400.0


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds to wait after the `attempt`-th try (1, 2, …) failed, jittered and capped."""
    grown = BASE_SECONDS * 2.0 ** min(attempt - 1, 20)
    return min(grown * (1 + rng.uniform(-JITTER, JITTER)), CAP_SECONDS)


class RetryPlan:
    """Collects a pass's outcomes: whether to stop the pass, and the wait before the next."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.paused = False
        self.wait: float | None = None

    def note(self, rows: Sequence[Delivery], outcomes: Mapping[int, SendOutcome]) -> None:
        """One batch: `rows` as claimed (their attempts before this try) and their outcomes."""
        got_through = failed_for_now = False
        for row in rows:
            outcome = outcomes.get(row.id)
            if outcome is None:
                continue
            if outcome.ok:
                got_through = True
                continue
            self.paused = self.paused or outcome.pause
            if not outcome.retryable:
                continue
            failed_for_now = True
            if outcome.in_doubt:
                continue  # settled by asking the provider, not by waiting (sms_in_doubt.py)
            wait = backoff(row.attempts + 1, self.rng)
            if outcome.retry_after is not None:
                wait = max(wait, min(outcome.retry_after, MAX_RETRY_AFTER_SECONDS))
            self.wait = wait if self.wait is None else max(self.wait, wait)
        if failed_for_now and not got_through:
            self.paused = True
