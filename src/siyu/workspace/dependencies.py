"""Authentication for every API route: Bearer API key or console session + CSRF."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from siyu.db.dependencies import SAFE_METHODS, DbSession, request_writes
from siyu.db.session import unit_of_work
from siyu.exceptions import Forbidden, Unauthorized
from siyu.workspace import service, sessions
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from siyu.workspace.security import tokens_match
from siyu.workspace.throttle import LoginThrottle

SESSION_COOKIE = "siyu_session"
CSRF_HEADER = "X-CSRF-Token"


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def authenticate(request: Request, session: DbSession) -> Principal:
    ip = client_ip(request)
    authorization = request.headers.get("Authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <api key>'")
        principal, due = service.authenticate_api_key(session, token.strip(), ip=ip)
        if due and principal.api_key_id is not None:
            _record_use(request, session, principal.api_key_id)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized("sign in or send an API key")
    principal, console_session = sessions.resolve_console_session(session, cookie, ip=ip)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not tokens_match(sent, console_session.csrf_token):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header")
    return principal


def _record_use(request: Request, session: Session, api_key_id: int) -> None:
    """In the request's unit of work if it writes anyway; otherwise in one of its own, as
    on SQLite a read that turns into a write is refused once another writer committed."""
    if request_writes(request):
        service.record_api_key_use(session, api_key_id)
        return
    with unit_of_work(request.app.state.engine) as own:
        service.record_api_key_use(own, api_key_id)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(minimum: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits principals with at least the given role."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(minimum):
            raise Forbidden(f"requires the {minimum.value} role or higher")
        return principal

    return check


Viewer = CurrentPrincipal
Staff = Annotated[Principal, Depends(require(Role.STAFF))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


Throttle = Annotated[LoginThrottle, Depends(login_throttle)]
