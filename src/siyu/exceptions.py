"""Errors are types: each carries its HTTP status and a stable code.

One handler in `siyu.app` renders every `SiyuError` as
`{"error": {"code", "message", "details"}}`.
"""

from typing import Any, ClassVar


class SiyuError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(SiyuError):
    status_code = 400
    code = "bad_request"


class Unauthorized(SiyuError):
    status_code = 401
    code = "unauthorized"


class Forbidden(SiyuError):
    status_code = 403
    code = "forbidden"


class NotFound(SiyuError):
    status_code = 404
    code = "not_found"

    def __init__(self, what: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{what} not found", details)


class Gone(SiyuError):
    """It existed and was deliberately removed (e.g. a file past its retention)."""

    status_code = 410
    code = "gone"


class Conflict(SiyuError):
    status_code = 409
    code = "conflict"


class ValidationFailed(SiyuError):
    """Input that parsed but breaks a rule; `field` names the offending input."""

    status_code = 422
    code = "validation_failed"

    def __init__(self, field: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{field}: {message}", {"field": field, **(details or {})})
        self.field = field


class PayloadTooLarge(SiyuError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(SiyuError):
    status_code = 429
    code = "rate_limited"
