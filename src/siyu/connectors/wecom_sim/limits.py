"""Per-API frequency limits (45009), a concurrency cap (45033) and injected 45009 bursts."""

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.state import SimState


def check_limits(state: SimState, path: str, *, debug: bool) -> None:
    """Count this call; raise 45009 when a window is full. Hold `state.lock`."""
    state.total_calls += 1
    remaining, only_path = state.burst_45009
    if remaining > 0 and only_path in (None, path):
        state.burst_45009 = (remaining - 1, only_path)
        raise ApiError(state.burst_errcode)
    now = state.now()
    key = f"{path}?debug" if debug else path
    calls = [t for t in state.calls.get(key, []) if t > now - 3600]
    state.calls[key] = calls
    config = state.config
    per_minute = (
        config.debug_per_minute
        if debug
        else config.api_rate_per_minute.get(path, config.rate_per_minute)
    )
    last_minute = sum(1 for t in calls if t > now - 60)
    if last_minute >= per_minute or len(calls) >= config.rate_per_hour:
        raise ApiError(45009)
    calls.append(now)


def enter(state: SimState, path: str) -> None:
    with state.lock:
        cap = state.config.max_concurrency
        if cap and state.in_flight.get(path, 0) >= cap:
            raise ApiError(45033)
        state.in_flight[path] = state.in_flight.get(path, 0) + 1


def leave(state: SimState, path: str) -> None:
    with state.lock:
        state.in_flight[path] = max(0, state.in_flight.get(path, 0) - 1)
