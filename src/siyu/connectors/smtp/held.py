"""SMTP with the final dot held back: the one moment a message becomes the server's.

A server takes responsibility for a message when it reads the "." that ends DATA; a
client that dies before writing it leaves nothing behind (the server drops an unfinished
transaction with the connection). `HeldConnection.prepare` sends MAIL, RCPT, DATA and
the content without that dot; the caller records that the message is leaving; `release`
writes the dot (no await: it is in the kernel's hands when `release` returns, and the
kernel delivers it even if this process dies right after); `outcome` reads the verdict.

The session is opened by aiosmtplib (connect, EHLO, STARTTLS, AUTH); then the connection
is driven by a small protocol of its own that keeps every reply, so MAIL, RCPT and DATA
go out in one write when the server offers PIPELINING (RFC 2920), and in turn otherwise.
With PIPELINING, `release` can also write the next message's MAIL, RCPT and DATA behind
the dot, so one write and one round trip carry a message's end and the next one's start.
That envelope hands nothing over: without content and its own dot the server has
nothing to deliver, and drops the open transaction with the connection.
"""

import asyncio
import ssl
from collections import deque
from types import TracebackType
from typing import Self

import aiosmtplib

from siyu.connectors.outcome import SendOutcome
from siyu.connectors.smtp.config import SmtpConfig
from siyu.connectors.smtp.session import SessionFailed, open_session, response_failure, tls_context

START_INPUT = 354
COMPLETED = 250
MAX_REPLY_BYTES = 64 * 1024


def payload(content: bytes) -> bytes:
    """CRLF-rendered content made transparent (RFC 5321 4.5.2): a line starting with "."
    gets a second one; ends with CRLF so the dot can follow."""
    stuffed = (b"." + content if content.startswith(b".") else content).replace(b"\r\n.", b"\r\n..")
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"


class ConnectionLost(Exception):
    """The server closed the connection, sent garbage, or did not answer in time."""


class _Replies(asyncio.Protocol):
    """Collects the server's replies in order (`read` takes the next one) and says when
    everything written has gone to the kernel (`drained`)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.replies: deque[tuple[int, str]] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.lost: str | None = None
        self.paused: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        start = 0
        while (end := self.buffer.find(b"\n", start)) >= 0:
            if self.buffer[start + 3 : start + 4] == b"-":  # a multi-line reply goes on
                start = end + 1
                continue
            text = bytes(self.buffer[: end + 1])
            del self.buffer[: end + 1]
            try:
                code = int(text[start : start + 3])
            except ValueError:
                self._lose(f"not an SMTP reply: {text[:80]!r}")
                return
            start = 0
            self.replies.append((code, text.decode("utf-8", "replace").strip()))
        if len(self.buffer) > MAX_REPLY_BYTES:
            self._lose("reply too long")
        self._wake()

    def pause_writing(self) -> None:
        if self.paused is None:
            self.paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        paused, self.paused = self.paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def eof_received(self) -> bool:
        self._lose("the server closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(str(exc) if exc else "the connection closed")
        self.resume_writing()

    def _lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def read(self, timeout: float) -> tuple[int, str]:
        while not self.replies:
            if self.lost is not None:
                raise ConnectionLost(self.lost)
            loop = asyncio.get_running_loop()
            waiter = self.waiter = loop.create_future()
            # a timer of our own: asyncio.wait_for costs a task's worth per reply
            timer = loop.call_later(timeout, _time_out, waiter, timeout)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
        return self.replies.popleft()

    async def drained(self, transport: asyncio.Transport, timeout: float) -> None:
        """Wait until the transport holds nothing back: all is in the kernel's hands."""
        deadline = asyncio.get_running_loop().time() + timeout
        while transport.get_write_buffer_size() > 0 and self.lost is None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                msg = f"the server took no data for {timeout:g} s"
                raise ConnectionLost(msg)
            # paused unless a byte or so is left over (plain transports pause above `high`)
            waiting = asyncio.shield(self.paused) if self.paused else asyncio.sleep(0.001)
            try:
                await asyncio.wait_for(waiting, left)
            except TimeoutError:
                continue
        if self.lost is not None:
            raise ConnectionLost(self.lost)


def _time_out(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(ConnectionLost(f"no reply within {timeout:g} s"))


def _outcome(code: int, text: str, provider_id: str | None = None) -> SendOutcome:
    if 200 <= code < 300:
        return SendOutcome(ok=True, provider_id=provider_id)
    failure = response_failure(code, text)
    return SendOutcome(ok=False, retryable=failure.retryable, code=failure.code, reason=text[:500])


class HeldConnection:
    """One SMTP connection that runs one held transaction at a time."""

    def __init__(self, config: SmtpConfig, context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.context = context
        self.sent_on_connection = 0
        self._transport: asyncio.Transport | None = None
        self._replies = _Replies()
        self._pipelining = False
        self._message_id: str | None = None
        # (sender, recipient) whose MAIL, RCPT and DATA are written and their replies unread
        self._envelope: tuple[str, str] | None = None

    @property
    def connected(self) -> bool:
        return (
            self._transport is not None
            and not self._transport.is_closing()
            and self._replies.lost is None
        )

    async def _open(self) -> None:
        smtp = await open_session(self.config, self.context)
        try:
            if smtp.is_ehlo_or_helo_needed:
                await smtp.ehlo()
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise ConnectionLost(str(exc)) from exc
        transport = smtp.transport
        assert isinstance(transport, asyncio.Transport)
        self._pipelining = smtp.supports_extension("pipelining")
        self._replies = _Replies()
        transport.set_protocol(self._replies)
        # pause_writing as soon as anything waits in user space, so `drained` need not poll
        # (TLS transports pause at >= high, plain ones at > high)
        transport.set_write_buffer_limits(high=1, low=0)
        self._transport = transport
        self.sent_on_connection = 0

    def _write(self, data: bytes) -> None:
        if not self.connected:
            raise ConnectionLost(self._replies.lost or "not connected")
        assert self._transport is not None
        self._transport.write(data)

    async def _read(self, deadline: float | None = None) -> tuple[int, str]:
        timeout = self.config.timeout
        if deadline is not None:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
        return await self._replies.read(timeout)

    def envelope_sent(self, sender: str, recipient: str) -> bool:
        """This message's MAIL, RCPT and DATA are on their way (written behind a dot)."""
        return self._envelope == (sender, recipient) and self.connected

    async def begin(self, sender: str, recipient: str) -> SendOutcome | None:
        """Open the connection if needed and, when the server pipelines, write MAIL, RCPT
        and DATA without waiting for their replies (`prepare` reads them). Lets a caller
        start many connections side by side and then prepare each in turn. An outcome
        means the server could not be reached."""
        if self.envelope_sent(sender, recipient):
            return None
        if self._envelope is not None:  # written for another message: start over
            self.close()
        if not self.connected or self.sent_on_connection >= self.config.messages_per_connection:
            await self.quit()
            try:
                await self._open()
            except SessionFailed as failed:
                return _outcome_of(failed)
            except ConnectionLost as exc:
                return _lost(exc)
        if self._pipelining:
            try:
                self._write(_envelope(sender, recipient))
            except ConnectionLost as exc:
                self.close()
                return _lost(exc)
            self._envelope = (sender, recipient)
        return None

    async def prepare(
        self,
        sender: str,
        recipient: str,
        content: bytes,
        message_id: str,
        deadline: float | None = None,
    ) -> SendOutcome | None:
        """Everything up to the final dot; `content` comes from `payload`. A returned
        outcome means the message was refused (or the server is unreachable) before
        anything was handed over. Replies are waited for up to the timeout, or until
        `deadline` (a time of the running loop's clock) when one is given."""
        failed = await self.begin(sender, recipient)
        if failed is not None:
            return failed
        try:
            if self._envelope is not None:
                self._envelope = None
                replies = [
                    await self._read(deadline),
                    await self._read(deadline),
                    await self._read(deadline),
                ]
            else:
                commands = [
                    f"MAIL FROM:<{sender}>\r\n".encode(),
                    f"RCPT TO:<{recipient}>\r\n".encode(),
                    b"DATA\r\n",
                ]
                replies = []
                for command in commands:
                    self._write(command)
                    replies.append(await self._read(deadline))
                    if replies[-1][0] >= 400:
                        break
            refused = next(((c, t) for c, t in replies if c >= 400), None)
            if refused is not None:
                if replies[-1][0] == START_INPUT:
                    self.close()  # DATA open without a recipient: never finish it
                else:
                    await self._reset()
                return _outcome(*refused)
            if replies[-1][0] != START_INPUT:
                self.close()
                return _outcome(*replies[-1])
            self._write(content)
            assert self._transport is not None
            if self._transport.get_write_buffer_size():
                await self._replies.drained(self._transport, self.config.timeout)
        except ConnectionLost as exc:
            self.close()
            return _lost(exc)
        self._message_id = message_id
        return None

    def release(self, ahead: tuple[str, str] | None = None) -> SendOutcome | None:
        """Write the dot: from here on the message is the server's. With `ahead`, the
        (sender, recipient) of this connection's next message, its MAIL, RCPT and DATA
        follow in the same write when the server pipelines and the connection is not
        spent. An outcome means the connection was gone, so the dot never left and the
        message can go again."""
        self.sent_on_connection += 1
        data = b".\r\n"
        if (
            ahead is not None
            and self._pipelining
            and self.sent_on_connection < self.config.messages_per_connection
        ):
            data += _envelope(*ahead)
        try:
            self._write(data)
        except ConnectionLost as exc:
            self.close()
            return _lost(exc)
        if len(data) > 3:
            self._envelope = ahead
        return None

    async def outcome(self, deadline: float | None = None) -> SendOutcome:
        """The server's verdict on the released message, waited for up to the timeout
        (or until `deadline`, a time of the running loop's clock, when one is given)."""
        message_id, self._message_id = self._message_id, None
        timeout = self.config.timeout
        if deadline is not None:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
        try:
            code, text = await self._replies.read(timeout)
        except ConnectionLost as exc:
            self.close()
            # the dot may have reached the server: the outcome is unknown, never resent
            return SendOutcome(ok=True, provider_id=message_id, reason=f"no reply: {exc}")
        return _outcome(code, text, message_id)

    async def _reset(self) -> None:
        try:
            self._write(b"RSET\r\n")
            await self._read()
        except ConnectionLost:
            self.close()

    def close(self) -> None:
        """Drop the connection; a prepared message without its dot dies with it."""
        transport, self._transport = self._transport, None
        self._message_id = None
        self._envelope = None
        if transport is not None:
            transport.close()

    async def quit(self) -> None:
        """QUIT between messages; a connection in the middle of one is dropped instead
        (QUIT would be read as content)."""
        if self._envelope is not None or self._message_id is not None:
            self.close()
        if self.connected:
            try:
                self._write(b"QUIT\r\n")
                await self._read()
            except ConnectionLost:
                pass
        self.close()


def _envelope(sender: str, recipient: str) -> bytes:
    return f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode()


def _lost(exc: ConnectionLost) -> SendOutcome:
    return SendOutcome(ok=False, retryable=True, code="smtp_connection", reason=str(exc))


def _outcome_of(failed: SessionFailed) -> SendOutcome:
    failure = failed.failure
    return SendOutcome(
        ok=False, retryable=failure.retryable, code=failure.code, reason=failure.reason
    )


class HeldPool:
    """`max_connections` held connections used side by side."""

    def __init__(self, config: SmtpConfig) -> None:
        context = tls_context(config)
        self.connections = [HeldConnection(config, context) for _ in range(config.max_connections)]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.gather(*(connection.quit() for connection in self.connections))
