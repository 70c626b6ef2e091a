import pytest

from siyu.exceptions import TooManyRequests
from siyu.workspace.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_expire_after_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=clock)
    throttle.record_failure("1.2.3.4", "a@example.com")
    throttle.record_failure("1.2.3.4", "A@example.com ")
    with pytest.raises(TooManyRequests) as limited:
        throttle.check("1.2.3.4", "a@example.com")
    assert limited.value.details["retry_after_seconds"] == 61

    throttle.check("5.6.7.8", "a@example.com")  # another address is not affected
    clock.now += 61
    throttle.check("1.2.3.4", "a@example.com")


def test_success_resets_the_count() -> None:
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=Clock())
    throttle.record_failure(None, "a@example.com")
    throttle.reset(None, "a@example.com")
    throttle.record_failure(None, "a@example.com")
    throttle.check(None, "a@example.com")
