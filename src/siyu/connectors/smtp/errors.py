"""Why an SMTP account does not work, as typed errors the settings page can show.

Raised by `check` ("test connection"); sending never raises these, it answers with a
`SendOutcome` instead. Every error is a `SiyuError` (502, like the WeCom errors), its
message in Chinese telling the admin what to change, its details naming host and port.
"""

from typing import Any, ClassVar

from siyu.exceptions import SiyuError


class SmtpError(SiyuError):
    status_code = 502
    code: ClassVar[str] = "smtp_error"

    def __init__(self, message: str, *, host: str, port: int, **details: Any) -> None:
        super().__init__(message, {"host": host, "port": port, **details})
        self.host = host
        self.port = port


class SmtpUnreachable(SmtpError):
    """No connection: wrong host or port, a firewall, DNS, or no answer within the timeout."""

    code = "smtp_unreachable"


class SmtpTlsFailed(SmtpError):
    """TLS could not be set up: certificate not trusted, wrong security mode, no STARTTLS."""

    code = "smtp_tls_failed"


class SmtpAuthFailed(SmtpError):
    """The server refused the username and password (or offers no way to log in)."""

    code = "smtp_auth_failed"


class SmtpRejected(SmtpError):
    """The server answered, but refused the session (for example 554 at the greeting)."""

    code = "smtp_rejected"
