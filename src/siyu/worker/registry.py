"""Job handlers are registered by name; job rows refer to them by that name."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from siyu.worker.context import JobContext

JobResult = dict[str, Any] | None
SyncHandler = Callable[[JobContext, dict[str, Any]], JobResult]
AsyncHandler = Callable[[JobContext, dict[str, Any]], Awaitable[JobResult]]
Handler = SyncHandler | AsyncHandler


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int


_REGISTRY: dict[str, JobSpec] = {}


def job(name: str, *, max_attempts: int = 8) -> Callable[[Handler], Handler]:
    """Register a handler. Handlers must be idempotent: a crash means a retry."""

    def register(handler: Handler) -> Handler:
        if name in _REGISTRY and _REGISTRY[name].handler is not handler:
            msg = f"job {name!r} registered twice"
            raise RuntimeError(msg)
        _REGISTRY[name] = JobSpec(name, handler, max_attempts)
        return handler

    return register


def get_spec(name: str) -> JobSpec | None:
    return _REGISTRY.get(name)


def registered_names() -> list[str]:
    return sorted(_REGISTRY)
