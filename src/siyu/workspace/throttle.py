"""Console sign-in throttling: repeated failures per (client IP, email) answer 429.

The counter lives in the web process, not the database. A failed sign-in ends in an
error response whose transaction rolls back, so a database counter would need a second
transaction per failure and would let an attacker turn guesses into writes. In process it
costs nothing; with N web processes behind a balancer an attacker gets at most N times
the limit per window, each guess still paying for an argon2 verification.
"""

import threading
import time
from collections import deque
from collections.abc import Callable

from siyu.exceptions import TooManyRequests

# Bounds memory when an attacker sprays many (ip, email) pairs.
MAX_TRACKED_KEYS = 100_000


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(ip: str | None, email: str) -> tuple[str, str]:
        return (ip or "unknown", email.strip().lower())

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def check(self, ip: str | None, email: str) -> None:
        """Raise TooManyRequests while this (ip, email) is over its failure budget."""
        key = self._key(ip, email)
        with self._lock:
            now = self._clock()
            failures = self._recent(key, now)
            if len(failures) >= self.max_failures:
                retry_after = max(1, int(failures[0] + self.window_seconds - now) + 1)
                raise TooManyRequests(
                    "too many failed sign-in attempts; try again later",
                    {"retry_after_seconds": retry_after},
                )

    def record_failure(self, ip: str | None, email: str) -> None:
        key = self._key(ip, email)
        with self._lock:
            now = self._clock()
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures
            if len(self._failures) > MAX_TRACKED_KEYS:
                self._forget_stale(now)

    def reset(self, ip: str | None, email: str) -> None:
        with self._lock:
            self._failures.pop(self._key(ip, email), None)

    def _forget_stale(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        while len(self._failures) > MAX_TRACKED_KEYS:
            del self._failures[next(iter(self._failures))]
