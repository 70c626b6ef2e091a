"""Channel adapters: how a batch of rendered messages leaves, and the moment it is handed over.

Every adapter calls `hand_over(delivery_ids)` right before the point of no return for
those messages (the final dot of SMTP, the HTTP request of an SMS or webhook). The sender
commits that record first, so a crash leaves each message either not handed over (sent
again later) or handed over (never sent again).
"""

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

from siyu.connectors.aliyun_sms.client import AliyunSmsClient
from siyu.connectors.outcome import SendOutcome
from siyu.connectors.smtp.config import Email, SmtpConfig
from siyu.connectors.smtp.held import HeldConnection, HeldPool, payload
from siyu.connectors.smtp.message import render
from siyu.connectors.webhook.sender import WebhookSender
from siyu.exceptions import ValidationFailed
from siyu.messaging.rendering import Rendered

# records the messages as leaving; returns the ids this sender won (another may have taken some)
HandOver = Callable[[Sequence[int]], set[int]]
Outcomes = dict[int, SendOutcome]
SMS_CONCURRENCY = 16


class Adapter(Protocol):
    batch_size: int

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def deliver(self, batch: Sequence[Rendered], hand_over: HandOver) -> Outcomes: ...


class _Managed:
    def __init__(self) -> None:
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)


def message_id(broadcast_id: int, delivery_id: int, domain: str) -> str:
    return f"<broadcast-{broadcast_id}.delivery-{delivery_id}@{domain}>"


class EmailAdapter(_Managed):
    """One message per connection per round: prepare all, hand over, write every dot
    with the connection's next envelope behind it (RFC 2920), read the verdicts."""

    def __init__(self, config: SmtpConfig, broadcast_id: int) -> None:
        super().__init__()
        self.config = config
        self.broadcast_id = broadcast_id
        self.batch_size = config.max_connections * 8
        self.domain = config.from_address.rpartition("@")[2] or "siyu"

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.pool = await self._stack.enter_async_context(HeldPool(self.config))
        return self

    def _email(self, message: Rendered) -> Email:
        headers: dict[str, str] = {}
        if message.unsubscribe_url:
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return Email(
            to_address=message.recipient.address,
            to_name=message.recipient.name or "",
            subject=message.subject or "",
            text=message.text or "",
            html=message.html,
            headers=headers,
            message_id=message_id(self.broadcast_id, message.recipient.delivery_id, self.domain),
        )

    async def deliver(self, batch: Sequence[Rendered], hand_over: HandOver) -> Outcomes:
        outcomes: Outcomes = {}
        ready: list[_Ready] = []
        for message in batch:
            email = self._email(message)
            try:
                content = payload(render(self.config, email))
            except ValueError as exc:
                outcomes[message.recipient.delivery_id] = SendOutcome(
                    ok=False, code="invalid_address", reason=str(exc)
                )
                continue
            ready.append(
                _Ready(message.recipient.delivery_id, email.to_address, content, email.message_id)
            )
        width = len(self.pool.connections)
        rounds = [ready[start : start + width] for start in range(0, len(ready), width)]
        refused = await self._prepare(self.pool.connections, rounds[0]) if rounds else []
        for number, round_ in enumerate(rounds):
            following = rounds[number + 1] if number + 1 < len(rounds) else []
            refused = await self._round(round_, refused, following, hand_over, outcomes)
        return outcomes

    async def _round(
        self,
        round_: Sequence["_Ready"],
        refused: Sequence[SendOutcome | None],
        following: Sequence["_Ready"],
        hand_over: HandOver,
        outcomes: Outcomes,
    ) -> list[SendOutcome | None]:
        """Hand over the round's prepared messages, write their dots (each with the
        envelope of its connection's message in the following round behind it), read the
        verdicts and prepare the following round; returns that round's refusals."""
        held: list[int] = []
        for index, (message, outcome) in enumerate(zip(round_, refused, strict=True)):
            if outcome is None:
                held.append(index)
            else:
                outcomes[message.delivery_id] = outcome
        won = hand_over([round_[index].delivery_id for index in held]) if held else set()
        released = self._release(round_, held, won, following, outcomes)
        # In turn, without a task each: the replies arrive together while the first is
        # awaited. One deadline for all, as if they were awaited side by side. Every
        # connection whose next envelope did not ride its dot is started before any
        # reply to an envelope is waited for, so a server that stalls at DATA stalls
        # them all at once (and the wait is one timeout, not one per connection).
        connections, sender = self.pool.connections, self.config.from_address
        deadline = asyncio.get_running_loop().time() + self.config.timeout
        later: list[int] = []
        for index in range(max(len(round_), len(following))):
            connection = connections[index]
            if index in released:
                outcomes[round_[index].delivery_id] = await connection.outcome(deadline)
            if index < len(following) and not connection.envelope_sent(
                sender, following[index].address
            ):
                later.append(index)
        started = await asyncio.gather(
            *(connections[i].begin(sender, following[i].address) for i in later)
        )
        failed = dict(zip(later, started, strict=True))
        deadline = asyncio.get_running_loop().time() + self.config.timeout
        next_refused: list[SendOutcome | None] = []
        for index, message in enumerate(following):
            outcome = failed.get(index)
            if outcome is None:
                outcome = await _prepare_one(connections[index], message, sender, deadline)
            next_refused.append(outcome)
        return next_refused

    def _release(
        self,
        round_: Sequence["_Ready"],
        held: Sequence[int],
        won: set[int],
        following: Sequence["_Ready"],
        outcomes: Outcomes,
    ) -> set[int]:
        """Write the dots of the won messages; returns the indexes of those written.
        They go out back to back, with no await, right after the hand-over commit: the
        only span where a crash loses a handed-over message (see sending.py)."""
        sender = self.config.from_address
        released: set[int] = set()
        for index in held:
            connection, message = self.pool.connections[index], round_[index]
            if message.delivery_id not in won:
                connection.close()  # without its dot the server drops the message
                continue
            ahead = (sender, following[index].address) if index < len(following) else None
            lost = connection.release(ahead)
            if lost is None:
                released.add(index)
            else:
                outcomes[message.delivery_id] = lost
        return released

    async def _prepare(
        self, connections: Sequence[HeldConnection], messages: Sequence["_Ready"]
    ) -> list[SendOutcome | None]:
        """Prepare each message on its connection: open and write the envelopes side by
        side (a task each, only here), then read the replies and write the contents in turn."""
        sender = self.config.from_address
        pairs = list(zip(connections, messages, strict=False))
        started = await asyncio.gather(*(c.begin(sender, m.address) for c, m in pairs))
        deadline = asyncio.get_running_loop().time() + self.config.timeout
        return [
            failed if failed is not None else await _prepare_one(c, m, sender, deadline)
            for (c, m), failed in zip(pairs, started, strict=True)
        ]


class _Ready(NamedTuple):
    delivery_id: int
    address: str
    content: bytes
    message_id: str


async def _prepare_one(
    connection: HeldConnection, message: _Ready, sender: str, deadline: float
) -> SendOutcome | None:
    return await connection.prepare(
        sender, message.address, message.content, message.message_id, deadline
    )


class SmsAdapter(_Managed):
    def __init__(self, client: AliyunSmsClient, broadcast_id: int) -> None:
        super().__init__()
        self.client = client
        self.broadcast_id = broadcast_id
        self.batch_size = SMS_CONCURRENCY * 4

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        await self._stack.enter_async_context(self.client)
        return self

    async def deliver(self, batch: Sequence[Rendered], hand_over: HandOver) -> Outcomes:
        won = hand_over([m.recipient.delivery_id for m in batch])
        mine = [m for m in batch if m.recipient.delivery_id in won]
        gate = asyncio.Semaphore(SMS_CONCURRENCY)

        async def one(message: Rendered) -> SendOutcome:
            sms = message.sms
            assert sms is not None
            async with gate:
                return await self.client.send_sms(
                    message.recipient.address,
                    sms["sign_name"],
                    sms["template_code"],
                    message.params,
                    f"d{message.recipient.delivery_id}",
                )

        sent = await asyncio.gather(*(one(m) for m in mine))
        return {m.recipient.delivery_id: o for m, o in zip(mine, sent, strict=True)}


class WebhookAdapter(_Managed):
    def __init__(self, url: str, secret: str, event: str, broadcast_id: int) -> None:
        super().__init__()
        self.url, self.secret, self.event = url, secret, event
        self.broadcast_id = broadcast_id
        self.batch_size = 64

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.sender = await self._stack.enter_async_context(WebhookSender())
        return self

    async def deliver(self, batch: Sequence[Rendered], hand_over: HandOver) -> Outcomes:
        won = hand_over([m.recipient.delivery_id for m in batch])
        mine = [m for m in batch if m.recipient.delivery_id in won]

        async def one(message: Rendered) -> SendOutcome:
            payload: dict[str, Any] = {
                "broadcast_id": self.broadcast_id,
                "customer_id": message.recipient.customer_id,
                "name": message.recipient.name,
                "variant": message.recipient.variant,
                "text": message.text,
            }
            return await self.sender.post(
                self.url,
                self.secret,
                self.event,
                payload,
                delivery_id=f"{self.broadcast_id}.{message.recipient.delivery_id}",
            )

        sent = await asyncio.gather(*(one(m) for m in mine))
        return {m.recipient.delivery_id: o for m, o in zip(mine, sent, strict=True)}


def require(config: dict[str, Any], key: str, channel: str) -> Any:
    value = config.get(key)
    if value in (None, ""):
        raise ValidationFailed(f"config.{key}", f"the {channel} account needs {key}")
    return value
