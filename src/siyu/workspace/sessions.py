"""Console sign-in: sessions, workspace switching, password changes."""

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from sqlalchemy.orm import Session

from siyu.exceptions import BadRequest, NotFound, Unauthorized, ValidationFailed
from siyu.kit.time import utcnow
from siyu.models import ConsoleSession, User
from siyu.workspace import service
from siyu.workspace.principal import Principal
from siyu.workspace.repository import WorkspaceRepository
from siyu.workspace.roles import Role
from siyu.workspace.security import (
    hash_password,
    hash_token,
    new_csrf_token,
    new_session_token,
    verify_password,
)
from siyu.workspace.throttle import LoginThrottle


@cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so a missing user takes as long as a wrong
    password."""
    return hash_password("not-a-real-password")


@dataclass(frozen=True)
class StartedSession:
    token: str = field(repr=False)
    csrf_token: str = field(repr=False)
    console_session: ConsoleSession


def _start(
    session: Session, *, user_id: int, workspace_id: int, ttl: timedelta, ip: str | None
) -> StartedSession:
    token = new_session_token()
    console_session = ConsoleSession(
        workspace_id=workspace_id,
        user_id=user_id,
        token_hash=hash_token(token),
        csrf_token=new_csrf_token(),
        expires_at=utcnow() + ttl,
        ip=ip,
    )
    session.add(console_session)
    session.flush()
    return StartedSession(token, console_session.csrf_token, console_session)


def login(
    session: Session,
    *,
    email: str,
    password: str,
    ttl: timedelta,
    throttle: LoginThrottle,
    workspace_slug: str | None = None,
    ip: str | None = None,
) -> StartedSession:
    """Check the password and open a session in the requested (or first) workspace."""
    throttle.check(ip, email)
    repo = WorkspaceRepository(session)
    user = repo.user_by_email(email)
    valid = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not valid or not user.is_active:
        throttle.record_failure(ip, email)
        raise Unauthorized("wrong email or password")
    memberships = repo.memberships_of(user.id)
    if workspace_slug is not None:
        workspace = repo.workspace_by_slug(workspace_slug)
        memberships = [m for m in memberships if workspace and m.workspace_id == workspace.id]
    if not memberships:
        throttle.record_failure(ip, email)
        raise Unauthorized("this user has no access to the workspace")
    throttle.reset(ip, email)
    # Expired sessions are swept when their user signs in again.
    repo.end_expired_sessions(user.id, utcnow())
    return _start(
        session, user_id=user.id, workspace_id=memberships[0].workspace_id, ttl=ttl, ip=ip
    )


def resolve_console_session(
    session: Session, token: str, *, ip: str | None = None
) -> tuple[Principal, ConsoleSession]:
    repo = WorkspaceRepository(session)
    console_session = repo.console_session_by_hash(hash_token(token))
    if console_session is None:
        raise Unauthorized("not signed in: the session has ended; please sign in again")
    if console_session.expires_at <= utcnow():
        raise Unauthorized("session expired; please sign in again", {"reason": "session_expired"})
    membership = repo.membership(console_session.workspace_id, console_session.user_id)
    user = repo.user(console_session.user_id)
    if membership is None or not membership.is_active or user is None or not user.is_active:
        raise Unauthorized("your access to this workspace has ended; please sign in again")
    principal = Principal(
        workspace_id=console_session.workspace_id,
        role=Role(membership.role),
        user_id=console_session.user_id,
        staff_id=membership.staff_id,
        ip=ip,
        console_session_id=console_session.id,
    )
    return principal, console_session


def logout(session: Session, token: str) -> None:
    """End the session server-side: the token stops working even if the cookie survives."""
    console_session = WorkspaceRepository(session).console_session_by_hash(hash_token(token))
    if console_session is not None:
        session.delete(console_session)
        session.flush()


def _console_user(session: Session, principal: Principal) -> User:
    if principal.user_id is None or principal.console_session_id is None:
        raise BadRequest("only a signed-in console user can do this; API keys cannot")
    user = WorkspaceRepository(session).user(principal.user_id)
    if user is None:
        raise Unauthorized("not signed in")
    return user


def switch_workspace(
    session: Session, principal: Principal, *, slug: str, ttl: timedelta
) -> StartedSession:
    """Replace the current session with a new one in another workspace of the same user."""
    user = _console_user(session, principal)
    repo = WorkspaceRepository(session)
    workspace = repo.workspace_by_slug(slug)
    membership = repo.membership(workspace.id, user.id) if workspace is not None else None
    if workspace is None or membership is None or not membership.is_active:
        raise NotFound("workspace")
    current = session.get(ConsoleSession, principal.console_session_id)
    if current is not None:
        session.delete(current)
    return _start(session, user_id=user.id, workspace_id=workspace.id, ttl=ttl, ip=principal.ip)


def change_password(
    session: Session, principal: Principal, *, current_password: str, new_password: str
) -> None:
    """Change the caller's own password and end their other sessions everywhere."""
    user = _console_user(session, principal)
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed("current_password", "is not your current password")
    service.check_password_rules(new_password, field_name="new_password")
    if new_password == current_password:
        raise ValidationFailed("new_password", "must differ from the current password")
    user.password_hash = hash_password(new_password)
    WorkspaceRepository(session).end_sessions(user_id=user.id, keep_id=principal.console_session_id)
    service.audit(session, principal, "auth.password_change", target_type="user", target_id=user.id)
    session.flush()
