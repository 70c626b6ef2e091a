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
from typing import Any, Protocol, Self

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
    """One message per connection per round: prepare all, hand over, write every dot."""

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
        sender = self.config.from_address
        ready: list[tuple[int, str, bytes, str]] = []  # delivery id, address, payload, id
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
                (message.recipient.delivery_id, email.to_address, content, email.message_id)
            )
        width = len(self.pool.connections)
        for start in range(0, len(ready), width):
            round_ = ready[start : start + width]
            connections = self.pool.connections[: len(round_)]
            refused = await asyncio.gather(
                *(
                    c.prepare(sender, address, content, mid)
                    for c, (_, address, content, mid) in zip(connections, round_, strict=True)
                )
            )
            held: list[tuple[HeldConnection, int]] = []
            for connection, (delivery_id, *_), outcome in zip(
                connections, round_, refused, strict=True
            ):
                if outcome is None:
                    held.append((connection, delivery_id))
                else:
                    outcomes[delivery_id] = outcome
            if not held:
                continue
            won = hand_over([delivery_id for _, delivery_id in held])
            # The dots go out back to back, with no await, right after the commit: the
            # only span where a crash loses a handed-over message (see sending.py).
            released: list[tuple[HeldConnection, int]] = []
            for connection, delivery_id in held:
                if delivery_id not in won:
                    connection.close()  # without its dot the server drops the message
                    continue
                lost = connection.release()
                if lost is None:
                    released.append((connection, delivery_id))
                else:
                    outcomes[delivery_id] = lost
            # In turn, without a task each: the replies arrive together while the first is
            # awaited. One deadline for all, as if they were awaited side by side.
            deadline = asyncio.get_running_loop().time() + self.config.timeout
            for connection, delivery_id in released:
                outcomes[delivery_id] = await connection.outcome(deadline)
        return outcomes


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
