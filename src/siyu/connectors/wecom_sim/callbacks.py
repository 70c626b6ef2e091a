"""Callbacks as WeCom pushes them: encrypted XML, 5 s timeout, 3 tries, from a background thread."""

import queue
import secrets
import threading
import time

import httpx

from siyu.connectors.wecom.crypto import CallbackCrypto
from siyu.connectors.wecom_sim.state import Push, SimState

FieldValue = str | int | list[str]


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def event_xml(corp_id: str, create_time: int, fields: dict[str, FieldValue]) -> str:
    """The decrypted payload of protocol.md §4: strings in CDATA, integers bare, lists as Items."""
    parts = [
        f"<ToUserName>{_cdata(corp_id)}</ToUserName>",
        f"<FromUserName>{_cdata('sys')}</FromUserName>",
        f"<CreateTime>{create_time}</CreateTime>",
        f"<MsgType>{_cdata('event')}</MsgType>",
    ]
    for name, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        elif isinstance(value, list):
            items = "".join(f"<Item>{_cdata(v)}</Item>" for v in value)
            parts.append(f"<{name}>{items}</{name}>")
        else:
            parts.append(f"<{name}>{_cdata(value)}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def emit(state: SimState, event: str, change_type: str, fields: dict[str, FieldValue]) -> None:
    """Record and queue one event; with no callback configured it is only logged."""
    with state.lock:
        body: dict[str, FieldValue] = {"Event": event}
        if change_type:
            body["ChangeType"] = change_type
        body.update(fields)
        xml = event_xml(state.corp_id, state.now_int(), body)
        copies = 2 if state.duplicate_callbacks else 1
        for _ in range(copies):
            push = Push(len(state.pushes) + 1, xml, event, change_type)
            state.pushes.append(push)
            if state.shuffle_callbacks > 1:
                state.held_pushes.append(push)
                if len(state.held_pushes) >= state.shuffle_callbacks:
                    release_held(state)
            else:
                state.outbox.put((state.generation, push))


def release_held(state: SimState) -> None:
    """Send the buffered callbacks in a shuffled order."""
    with state.lock:
        held, state.held_pushes = state.held_pushes, []
        order = list(held)
        while len(order) > 1 and order == held:
            state.rng.shuffle(order)
        for push in order:
            state.outbox.put((state.generation, push))


class Pusher:
    """Delivers queued callbacks one after another, as WeCom would, off the request path."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wecom-sim-pusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client() as http:
            while not self._stop.is_set():
                try:
                    generation, push = self.state.outbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                self._deliver(http, generation, push)

    def _deliver(self, http: httpx.Client, generation: int, push: Push) -> None:
        state = self.state
        with state.lock:
            target = state.callback
            config = state.config
        if target is None or generation != state.generation:
            with state.lock:
                push.status = "failed"
                push.responses.append("no callback url")
            return
        crypto = CallbackCrypto(target.token, target.encoding_aes_key, state.corp_id)
        for attempt in range(1, config.callback_attempts + 1):
            timestamp = str(int(time.time()))
            nonce = str(secrets.randbelow(10**10))
            encrypted, msg_signature = crypto.seal(push.xml.encode(), timestamp, nonce)
            body = (
                f"<xml><ToUserName>{_cdata(state.corp_id)}</ToUserName>"
                f"<AgentID>{_cdata(config.agent_id)}</AgentID>"
                f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
            )
            try:
                response = http.post(
                    target.url,
                    params={"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce},
                    content=body.encode(),
                    headers={"Content-Type": "text/xml"},
                    timeout=config.callback_timeout,
                )
                outcome = str(response.status_code)
            except httpx.TimeoutException:
                outcome = "timeout"
            except httpx.HTTPError as exc:
                outcome = f"error: {type(exc).__name__}"
            with state.lock:
                if generation != state.generation:
                    return
                push.attempts = attempt
                push.responses.append(outcome)
                if outcome == "200":
                    push.status = "delivered"
                    return
            if attempt < config.callback_attempts and config.callback_retry_delay:
                self._stop.wait(config.callback_retry_delay)
        with state.lock:
            push.status = "failed"
