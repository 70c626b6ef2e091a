"""Access tokens cached per (corp, secret) in this process (protocol.md §1.4).

A token is refreshed ahead of its expiry; one refresh is in flight per key and event loop,
and the callers that arrive meanwhile wait for it and share its result. Tokens live only
here and in the request's query string: never in logs, errors or the database.
"""

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Refresh when less than this is left (but never earlier than half the lifetime).
REFRESH_AHEAD = 300.0

TokenKey = tuple[str, str]
Fetch = Callable[[], Awaitable[tuple[str, int]]]


def token_key(corp_id: str, secret: str) -> TokenKey:
    """The cache key: the corp and a digest of the secret (the secret itself is not kept)."""
    return corp_id, hashlib.sha256(secret.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class _Cached:
    token: str
    refresh_at: float


class TokenCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[TokenKey, _Cached] = {}
        self._guard = threading.Lock()
        # asyncio locks belong to one event loop; jobs run each in a loop of their own.
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[TokenKey, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def _fresh(self, key: TokenKey) -> str | None:
        with self._guard:
            cached = self._tokens.get(key)
        if cached is None or self._clock() >= cached.refresh_at:
            return None
        return cached.token

    def _lock(self, key: TokenKey) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            locks = self._locks.setdefault(loop, {})
            return locks.setdefault(key, asyncio.Lock())

    async def get(self, key: TokenKey, fetch: Fetch) -> str:
        """The cached token, or a new one from `fetch` (one fetch at a time per key)."""
        token = self._fresh(key)
        if token is not None:
            return token
        async with self._lock(key):
            token = self._fresh(key)
            if token is not None:
                return token
            token, expires_in = await fetch()
            ahead = min(REFRESH_AHEAD, expires_in / 2)
            with self._guard:
                self._tokens[key] = _Cached(token, self._clock() + expires_in - ahead)
            return token

    def invalidate(self, key: TokenKey, token: str) -> None:
        """Drop `token` if it is still the cached one (a newer token is kept)."""
        with self._guard:
            cached = self._tokens.get(key)
            if cached is not None and cached.token == token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()


# The process-wide cache every WecomClient uses unless given its own.
TOKENS = TokenCache()
