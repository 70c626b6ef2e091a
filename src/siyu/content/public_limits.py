"""Per-IP request limits of the public pages (short links, preference pages).

The `limits` library's moving window, in the web process's memory: like the sign-in
throttle, a counter in the database would turn every request of a flood into a write.
With N web processes a client gets at most N times the limit. Behind a reverse proxy the
client address is the one uvicorn takes from X-Forwarded-For (`--forwarded-allow-ips`).
"""

import math
import threading
import time

from fastapi import Request
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from siyu.config import Settings

STATE_KEY = "public_limiter"
_creating = threading.Lock()


class PublicLimiter:
    def __init__(self, per_minute: int) -> None:
        self.item = RateLimitItemPerMinute(per_minute)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, scope: str, ip: str | None) -> int | None:
        """Count one request; None if it is within the limit, else seconds to wait."""
        key = ip or "unknown"
        if self.limiter.hit(self.item, scope, key):
            return None
        reset = self.limiter.get_window_stats(self.item, scope, key).reset_time
        return max(1, math.ceil(reset - time.time()))


def limiter_of(request: Request) -> PublicLimiter:
    """The app's limiter, made on first use from its settings."""
    limiter: PublicLimiter | None = getattr(request.app.state, STATE_KEY, None)
    if limiter is not None:
        return limiter
    with _creating:
        limiter = getattr(request.app.state, STATE_KEY, None)
        if limiter is None:
            settings: Settings = request.app.state.settings
            limiter = PublicLimiter(settings.public_requests_per_minute)
            setattr(request.app.state, STATE_KEY, limiter)
        return limiter


def retry_after(request: Request, scope: str) -> int | None:
    """Count this request against its client's limit for `scope`; seconds to wait if over."""
    ip = request.client.host if request.client else None
    return limiter_of(request).retry_after(scope, ip)
