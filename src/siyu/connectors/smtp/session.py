"""Opening one SMTP session (connect, TLS, login) and naming what went wrong.

`open_session` is shared by the sender's pool and by `check`; a failure comes out as a
`SessionFailed` that says whether trying again later can help.
"""

import ssl
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from siyu.connectors.smtp.config import SmtpConfig

FailureKind = Literal["unreachable", "timeout", "tls", "auth", "rejected"]


@dataclass(frozen=True, slots=True)
class SessionFailure:
    kind: FailureKind
    code: str  # the SendOutcome code: smtp_unreachable, smtp_timeout, smtp_tls_failed, ...
    reason: str
    retryable: bool
    smtp_code: int | None = None


class SessionFailed(Exception):
    def __init__(self, failure: SessionFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    """The client TLS settings: system CAs plus `ca_file`, or no verification at all."""
    if config.security == "none":
        return None
    context = ssl.create_default_context(cafile=config.ca_file)
    if not config.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def open_session(
    config: SmtpConfig, context: ssl.SSLContext | None = None
) -> aiosmtplib.SMTP:
    """A connected (and, with a username, logged in) client; SessionFailed otherwise."""
    if context is None:
        context = tls_context(config)
    client = aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        timeout=config.timeout,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        tls_context=context,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        client.close()
        raise SessionFailed(_connect_failure(config, exc)) from exc
    if config.username:
        try:
            await client.login(config.username, config.password or "")
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise SessionFailed(_login_failure(exc)) from exc
    return client


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _connect_failure(config: SmtpConfig, exc: BaseException) -> SessionFailure:
    tls = _ssl_error(exc)
    if tls is not None:
        return SessionFailure("tls", "smtp_tls_failed", f"TLS failed: {tls}", retryable=False)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return SessionFailure("timeout", "smtp_timeout", str(exc), retryable=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # The greeting (421 busy, 554 go away) or the answer to STARTTLS.
        return response_failure(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | OSError):
        return SessionFailure("unreachable", "smtp_unreachable", str(exc), retryable=True)
    # STARTTLS asked for but not offered, or TLS on a plain port.
    if config.security != "none":
        return SessionFailure("tls", "smtp_tls_failed", str(exc), retryable=False)
    return SessionFailure("rejected", "smtp_rejected", str(exc), retryable=False)


def _login_failure(exc: BaseException) -> SessionFailure:
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return SessionFailure("timeout", "smtp_timeout", str(exc), retryable=True)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | OSError):
        return SessionFailure("unreachable", "smtp_unreachable", str(exc), retryable=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:  # 454 temporary authentication failure
            return response_failure(exc.code, exc.message)
        return SessionFailure(
            "auth", "smtp_auth_failed", f"{exc.code} {exc.message}", False, exc.code
        )
    # No AUTH offered (often: the server wants TLS first).
    return SessionFailure("auth", "smtp_auth_failed", str(exc), retryable=False)


def response_failure(code: int, message: str) -> SessionFailure:
    """An SMTP reply: 5xx is final, anything else (4xx, garbled replies) may pass later."""
    return SessionFailure(
        "rejected", f"smtp_{code}" if code > 0 else "smtp_bad_reply", message, code < 500, code
    )
