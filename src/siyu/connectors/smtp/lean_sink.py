"""A fast SMTP sink in a process of its own, for benchmarks and crash tests.

`MailSink` (aiosmtpd, one .eml file per message) tops out near 1,000 messages/s, which
measures the server rather than the sender. `LeanSink` speaks just enough SMTP for a
client that sends EHLO, MAIL, RCPT, DATA, RSET, NOOP and QUIT (pipelined or not), takes
responsibility for a message when it reads the final dot, like a real server, and
appends one journal line per accepted message: `<Message-ID> <recipient>`.

It lives in its own process so that a sender killed mid-message cannot take it down,
and it can hold its replies like a stalled server: `hold("data")` answers no DATA (the
client waits before sending any content), `hold("dot")` accepts each message on its dot
but keeps the 250 back (the client waits not knowing the message arrived). `stalled()`
says when every open connection waits on a held reply, the moment to kill the client.

    with LeanSink(journal=path) as sink:
        ...  # send to 127.0.0.1:sink.port
    recipients = [line.split()[1] for line in path.read_text().splitlines()]
"""

import asyncio
import multiprocessing
import re
import socket
from ctypes import c_int32, c_int64
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from pathlib import Path
from typing import IO, Literal

HoldPoint = Literal["data", "dot"]
_HOLD_CODES: dict[HoldPoint | None, int] = {None: 0, "data": 1, "dot": 2}
_MESSAGE_ID = re.compile(rb"\r\nMessage-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE)
_END = b"\r\n.\r\n"
_EHLO_REPLY = b"250-lean sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 33554432\r\n"


class _Shared:
    """Counters the sink process writes and the parent reads. One thread writes each
    (the sink's loop; `hold` the parent), so they need no lock, whose acquire and
    release would cost the sink about a tenth of its time per message."""

    def __init__(self, context: SpawnContext) -> None:
        self.accepted: c_int64 = context.RawValue(c_int64, 0)
        self.hold: c_int32 = context.RawValue(c_int32, 0)
        self.held: c_int32 = context.RawValue(c_int32, 0)
        self.connections: c_int32 = context.RawValue(c_int32, 0)


class _Session(asyncio.Protocol):
    def __init__(self, shared: _Shared, journal: IO[bytes] | None) -> None:
        self.shared = shared
        self.journal = journal
        self.buffer = bytearray()
        self.in_data = False
        self.recipient = b""
        self.held_reply: bytes | None = None
        self.transport: asyncio.Transport | None = None
        self.replies: list[bytes] = []
        self.scanned = 0  # the buffer holds no end of data before this offset

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.shared.connections.value += 1
        transport.write(b"220 lean sink ESMTP\r\n")

    def connection_lost(self, _exc: Exception | None) -> None:
        self.shared.connections.value -= 1
        if self.held_reply is not None:
            self.held_reply = None
            self.shared.held.value -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._process()
        self._flush()

    def _flush(self) -> None:
        # the replies to everything one read brought (a pipelined group) in one write
        if self.replies and self.transport is not None:
            self.transport.write(b"".join(self.replies))
        self.replies.clear()

    def release(self) -> None:
        """Send the held reply (the hold was lifted) and go on with what is buffered."""
        if self.held_reply is None or self.transport is None:
            return
        reply, self.held_reply = self.held_reply, None
        self.shared.held.value -= 1
        self.replies.append(reply)
        self._process()
        self._flush()

    def _reply(self, reply: bytes, point: HoldPoint) -> None:
        if self.shared.hold.value == _HOLD_CODES[point]:
            self.held_reply = reply
            self.shared.held.value += 1
        else:
            self.replies.append(reply)

    def _process(self) -> None:
        while self.held_reply is None and self.transport is not None:
            if self.in_data:
                end = self.buffer.find(_END, self.scanned)
                if end < 0:
                    self.scanned = max(0, len(self.buffer) - len(_END) + 1)
                    return
                self._accept(end + 2)
                del self.buffer[: end + len(_END)]
                self.scanned = 0
                self.in_data = False
                self._reply(b"250 2.0.0 OK: queued\r\n", "dot")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            line = bytes(self.buffer[:line_end])
            del self.buffer[: line_end + 2]
            self._command(line)

    def _command(self, line: bytes) -> None:
        assert self.transport is not None
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            self.replies.append(_EHLO_REPLY if verb == b"EHLO" else b"250 lean sink\r\n")
        elif verb == b"MAIL":
            self.recipient = b""
            self.replies.append(b"250 2.1.0 OK\r\n")
        elif verb == b"RCPT":
            self.recipient = line.partition(b":")[2].strip().strip(b"<>")
            self.replies.append(b"250 2.1.5 OK\r\n")
        elif verb == b"DATA":
            self.in_data = True
            # the content's first line may be the end marker's "." of an empty message
            self.buffer[:0] = b"\r\n"
            self._reply(b"354 end data with <CR><LF>.<CR><LF>\r\n", "data")
        elif verb == b"QUIT":
            self.replies.append(b"221 2.0.0 bye\r\n")
            self._flush()
            self.transport.close()
        else:  # RSET, NOOP and anything else
            self.recipient = b""
            self.replies.append(b"250 OK\r\n")

    def _accept(self, end: int) -> None:
        """The message is the buffer up to `end` (its CRLF before the dot)."""
        self.shared.accepted.value += 1
        if self.journal is not None:
            headers_end = self.buffer.find(b"\r\n\r\n", 2, end + 2)
            found = _MESSAGE_ID.search(self.buffer, 0, end if headers_end < 0 else headers_end)
            message_id = found.group(1) if found else b"<none>"
            self.journal.write(message_id + b" " + self.recipient + b"\n")


def _serve(port: int, shared: _Shared, journal_path: str | None, control: Connection) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        sessions: set[_Session] = set()
        journal = open(journal_path, "ab", buffering=0) if journal_path else None  # noqa: SIM115

        def session() -> _Session:
            made = _Session(shared, journal)
            sessions.add(made)
            return made

        server = await loop.create_server(session, "127.0.0.1", port)
        control.send("ready")
        stop = loop.run_in_executor(None, control.recv)
        while not stop.done():
            if shared.hold.value == 0:
                for made in list(sessions):
                    if made.transport is None:
                        sessions.discard(made)
                    else:
                        made.release()
            await asyncio.wait([stop], timeout=0.005)
        server.close()
        if journal is not None:
            journal.close()

    asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LeanSink:
    """The sink process on a free 127.0.0.1 port; `journal` (a file) lists what arrived."""

    def __init__(self, journal: Path | None = None) -> None:
        self.port = _free_port()
        self.journal = journal
        context = multiprocessing.get_context("spawn")
        self._shared = _Shared(context)
        self._control, remote = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(self.port, self._shared, str(journal) if journal else None, remote),
            daemon=True,
        )

    @property
    def pid(self) -> int | None:
        """The sink process's id once started (benchmarks read its CPU time)."""
        return self._process.pid

    @property
    def accepted(self) -> int:
        """Messages accepted (their dot read) since the start."""
        return self._shared.accepted.value

    def hold(self, point: HoldPoint | None) -> None:
        """Hold replies at `point` from now on; None answers everything again."""
        self._shared.hold.value = _HOLD_CODES[point]

    def stalled(self) -> bool:
        """Every open connection waits on a held reply."""
        held = self._shared.held.value
        return held > 0 and held == self._shared.connections.value

    def start(self) -> None:
        self._process.start()
        if not self._control.poll(60):
            self._process.kill()
            msg = "the SMTP sink did not start within 60 s"
            raise RuntimeError(msg)
        self._control.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            self._control.send("stop")
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> "LeanSink":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
