"""SMTP with the final dot held back: the one moment a message becomes the server's.

A server takes responsibility for a message when it reads the "." that ends DATA; a
client that dies before writing it leaves nothing behind. `HeldConnection.prepare` sends
MAIL, RCPT, DATA and the body without that dot; the caller records that the message is
leaving; `finish` writes the dot and reads the reply. A crash between the record and the
dot is a window of microseconds, so "recorded as leaving" means "sent" for all practical
purposes, and anything not recorded can be sent again without a duplicate.
"""

import re
import ssl
from types import TracebackType
from typing import Self

import aiosmtplib
from aiosmtplib import SMTPResponseException, SMTPServerDisconnected

from siyu.connectors.outcome import SendOutcome
from siyu.connectors.smtp.config import Email, SmtpConfig
from siyu.connectors.smtp.message import render

START_INPUT = 354
COMPLETED = 250
_LEADING_PERIOD = re.compile(rb"(?m)^\.")
_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")


def _outcome(code: int, message: str, provider_id: str | None = None) -> SendOutcome:
    if code == COMPLETED:
        return SendOutcome(ok=True, provider_id=provider_id)
    return SendOutcome(
        ok=False, retryable=400 <= code < 500, code=f"smtp_{code}", reason=message[:500]
    )


class HeldConnection:
    """One SMTP connection that runs one held transaction at a time."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.smtp: aiosmtplib.SMTP | None = None
        self.sent_on_connection = 0
        self._email: Email | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        config = self.config
        context: ssl.SSLContext | None = None
        if config.security != "none":
            context = ssl.create_default_context(cafile=config.ca_file)
            if not config.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=context,
        )
        await smtp.connect()
        if config.username:
            await smtp.login(config.username, config.password or "")
        return smtp

    async def prepare(self, email: Email) -> SendOutcome | None:
        """Everything up to the final dot. A returned outcome means the message was refused
        (or the server is unreachable) before anything was handed over."""
        try:
            body = _LINE_ENDINGS.sub(b"\r\n", render(self.config, email))
        except ValueError as exc:
            return SendOutcome(ok=False, code="invalid_address", reason=str(exc))
        if self.smtp is None or not self.smtp.is_connected:
            self.smtp = None
            try:
                self.smtp = await self._connect()
            except (OSError, aiosmtplib.SMTPException) as exc:
                return SendOutcome(ok=False, retryable=True, code="smtp_connect", reason=str(exc))
            self.sent_on_connection = 0
        smtp = self.smtp
        try:
            await smtp.mail(self.config.from_address)
            await smtp.rcpt(email.to_address)
            start = await smtp.execute_command(b"DATA")
            if start.code != START_INPUT:
                await smtp.rset()
                return _outcome(start.code, start.message)
        except SMTPResponseException as exc:
            await self._reset()
            return _outcome(exc.code, exc.message)
        except (SMTPServerDisconnected, OSError, aiosmtplib.SMTPException) as exc:
            self.close()
            return SendOutcome(ok=False, retryable=True, code="smtp_connection", reason=str(exc))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        assert smtp.protocol is not None
        smtp.protocol.write(_LEADING_PERIOD.sub(b"..", body))
        self._email = email
        return None

    async def finish(self) -> SendOutcome:
        """Write the dot and read the server's verdict on the prepared message."""
        assert self.smtp is not None
        assert self.smtp.protocol is not None
        assert self._email is not None
        email, self._email = self._email, None
        try:
            self.smtp.protocol.write(b".\r\n")
            reply = await self.smtp.protocol.read_response(timeout=self.config.timeout)
        except (SMTPServerDisconnected, OSError, aiosmtplib.SMTPException) as exc:
            self.close()
            # the dot may have reached the server: the outcome is unknown, never resent
            return SendOutcome(ok=True, provider_id=email.message_id, reason=f"no reply: {exc}")
        self.sent_on_connection += 1
        if self.sent_on_connection >= self.config.messages_per_connection:
            await self.quit()
        return _outcome(reply.code, reply.message, email.message_id)

    async def _reset(self) -> None:
        try:
            if self.smtp is not None:
                await self.smtp.rset()
        except (SMTPServerDisconnected, OSError, aiosmtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    async def quit(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (SMTPServerDisconnected, OSError, aiosmtplib.SMTPException):
                smtp.close()


class HeldPool:
    """`max_connections` held connections used side by side."""

    def __init__(self, config: SmtpConfig) -> None:
        self.connections = [HeldConnection(config) for _ in range(config.max_connections)]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for connection in self.connections:
            await connection.quit()
