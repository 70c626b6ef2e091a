"""The spacing of send passes: backoff with jitter and a cap, Retry-After, stopping a pass."""

import random

from siyu.connectors.outcome import SendOutcome
from siyu.messaging.retrying import (
    CAP_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
    RetryPlan,
    backoff,
)
from siyu.models import Delivery

OK = SendOutcome(ok=True, provider_id="x")
LATER = SendOutcome(ok=False, retryable=True, code="http_500")
FINAL = SendOutcome(ok=False, code="http_410")


def _rows(*attempts: int) -> list[Delivery]:
    return [Delivery(id=n + 1, attempts=a) for n, a in enumerate(attempts)]


def test_backoff_doubles_per_attempt_within_its_jitter_and_stops_at_the_cap() -> None:
    rng = random.Random(7)
    for attempt, base in ((1, 30), (2, 60), (3, 120), (5, 480)):
        waits = [backoff(attempt, rng) for _ in range(200)]
        assert min(waits) >= base * 0.75
        assert max(waits) <= base * 1.25
        assert max(waits) - min(waits) > base * 0.3  # really jittered
    assert {backoff(attempt, rng) for attempt in (9, 20, 500)} == {CAP_SECONDS}


def test_the_wait_is_the_longest_of_the_batch_and_never_below_retry_after() -> None:
    plan = RetryPlan(random.Random(1))
    asked = SendOutcome(ok=False, retryable=True, code="http_429", retry_after=900, pause=True)
    plan.note(_rows(0, 3, 0), {1: OK, 2: LATER, 3: asked})

    assert plan.wait == 900
    plan.note(_rows(0), {1: SendOutcome(ok=False, retryable=True, retry_after=10**9)})
    assert plan.wait == MAX_RETRY_AFTER_SECONDS
    assert plan.paused


def test_a_batch_with_a_success_and_a_plain_retryable_failure_goes_on() -> None:
    plan = RetryPlan(random.Random(1))
    plan.note(_rows(0, 0, 0), {1: OK, 2: LATER, 3: FINAL})

    assert not plan.paused
    assert plan.wait is not None
    assert 22.5 <= plan.wait <= 37.5


def test_a_batch_where_nothing_got_through_stops_the_pass() -> None:
    plan = RetryPlan(random.Random(1))
    plan.note(_rows(0, 0), {1: LATER, 2: FINAL})

    assert plan.paused


def test_final_failures_alone_neither_stop_the_pass_nor_ask_for_a_wait() -> None:
    plan = RetryPlan(random.Random(1))
    plan.note(_rows(0, 0), {1: FINAL, 2: FINAL})

    assert (plan.paused, plan.wait) == (False, None)


def test_sends_in_doubt_wait_for_the_provider_not_for_backoff() -> None:
    plan = RetryPlan(random.Random(1))
    doubt = SendOutcome(ok=False, retryable=True, in_doubt=True, code="in_doubt")
    plan.note(_rows(0, 0), {1: OK, 2: doubt})

    assert (plan.paused, plan.wait) == (False, None)
