"""Receipts and replies as Aliyun pushes them: JSON arrays in batches, retried when not acked.

A message gets its receipt `report_delay` seconds after the send (simulator clock). Its
outcome follows the rules set through the control API: numbers that fail with a code, a
seeded share of failures, and marketing to numbers that replied T lands in the blacklist.
A push is acknowledged by HTTP 200 with a JSON body whose `code` is a number; otherwise it
is pushed again after each of `push_retry_delays`, then given up.
"""

import threading
from typing import Any

import httpx

from siyu.connectors.aliyun_sms.errors import REPORT_MESSAGES
from siyu.connectors.aliyun_sms_sim.state import Push, PushKind, SentSms, SimState, china_text

DELIVERED = "DELIVERED"


def _outcome(state: SimState, message: SentSms) -> str:
    if message.phone_number in state.fail_numbers:
        return state.fail_numbers[message.phone_number]
    if message.blacklisted:
        return "MOBILE_IN_BLACK"
    if state.fail_ratio and state.report_rng.random() < state.fail_ratio:
        return state.fail_code
    return DELIVERED


def queue_push(state: SimState, kind: PushKind, items: list[dict[str, Any]]) -> None:
    """Batch `items` for the report or uplink URL; without a URL Aliyun pushes nothing."""
    url = state.report_url if kind == "report" else state.uplink_url
    if not url or not items:
        return
    size = max(1, state.config.push_batch_size)
    for start in range(0, len(items), size):
        state.pushes.append(Push(state.next_id(), kind, items[start : start + size], state.now()))


def settle_reports(state: SimState, *, everything: bool = False) -> int:
    """Give due messages (or all waiting ones) their receipt; returns how many."""
    with state.lock:
        now = state.now()
        items: list[dict[str, Any]] = []
        for message in state.messages:
            if message.send_status != 1 or (not everything and message.report_due > now):
                continue
            code = _outcome(state, message)
            message.send_status = 3 if code == DELIVERED else 2
            message.err_code = code
            message.err_msg = REPORT_MESSAGES.get(code, code)
            message.report_time = now
            items.append(
                {
                    "phone_number": message.phone_number,
                    "send_time": china_text(message.send_time),
                    "report_time": china_text(now),
                    "success": code == DELIVERED,
                    "err_code": code,
                    "err_msg": message.err_msg,
                    "sms_size": str(message.segments),
                    "biz_id": message.biz_id,
                    "out_id": message.out_id,
                }
            )
        queue_push(state, "report", items)
        return len(items)


def _acknowledged(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    code = body.get("code") if isinstance(body, dict) else None
    return isinstance(code, int | float) and not isinstance(code, bool)


class Pusher:
    """Settles receipts and delivers due pushes from a background thread."""

    def __init__(self, state: SimState, interval: float = 0.05) -> None:
        self.state = state
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aliyun-sms-sim-pusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client() as http:
            while not self._stop.wait(self.interval):
                settle_reports(self.state)
                with self.state.lock:
                    now = self.state.now()
                    generation = self.state.generation
                    due = [
                        p for p in self.state.pushes if p.status == "pending" and p.next_at <= now
                    ]
                for push in due:
                    self._deliver(http, generation, push)

    def _deliver(self, http: httpx.Client, generation: int, push: Push) -> None:
        state = self.state
        with state.lock:
            url = state.report_url if push.kind == "report" else state.uplink_url
            config = state.config
        try:
            response = http.post(url, json=push.items, timeout=config.push_timeout)
            outcome = f"{response.status_code} {response.text[:200]}"
            acked = _acknowledged(response)
        except httpx.TimeoutException:
            outcome, acked = "timeout", False
        except httpx.HTTPError as exc:
            outcome, acked = f"error: {type(exc).__name__}", False
        with state.lock:
            if generation != state.generation:
                return
            push.attempts += 1
            push.responses.append(outcome)
            if acked:
                push.status = "delivered"
            elif push.attempts <= len(config.push_retry_delays):
                push.next_at = state.now() + config.push_retry_delays[push.attempts - 1]
            else:
                push.status = "failed"
