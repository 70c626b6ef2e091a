"""Workspaces, users, memberships, API keys, console sessions and the audit log."""

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.exceptions import Conflict, NotFound, Unauthorized, ValidationFailed
from siyu.kit.time import utcnow
from siyu.models import ApiKey, AuditEntry, ConsoleSession, Membership, User, Workspace
from siyu.workspace.principal import Principal
from siyu.workspace.repository import WorkspaceRepository
from siyu.workspace.roles import Role
from siyu.workspace.security import (
    hash_password,
    hash_token,
    new_api_key,
    new_session_token,
    verify_password,
)

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MIN_PASSWORD_LENGTH = 8


def create_workspace(session: Session, *, slug: str, name: str) -> Workspace:
    if not SLUG_PATTERN.match(slug):
        raise ValidationFailed("slug", "use 2–63 lowercase letters, digits and hyphens")
    repo = WorkspaceRepository(session)
    if repo.workspace_by_slug(slug) is not None:
        raise Conflict(f"workspace {slug!r} already exists", {"field": "slug"})
    workspace = Workspace(slug=slug, name=name)
    session.add(workspace)
    session.flush()
    return workspace


def get_workspace(session: Session, workspace_id: int) -> Workspace:
    workspace = WorkspaceRepository(session).workspace(workspace_id)
    if workspace is None:
        raise NotFound("workspace")
    return workspace


def workspace_by_slug(session: Session, slug: str) -> Workspace:
    workspace = WorkspaceRepository(session).workspace_by_slug(slug)
    if workspace is None:
        raise NotFound("workspace")
    return workspace


def create_user(
    session: Session,
    *,
    workspace_id: int,
    email: str,
    name: str,
    password: str,
    role: Role,
    staff_id: int | None = None,
) -> User:
    """Create a user (or reuse one with this email) and give them a role in the workspace."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed("email", "not an email address")
    repo = WorkspaceRepository(session)
    user = repo.user_by_email(email)
    if user is None:
        user = User(email=email, name=name, password_hash=hash_password(password))
        session.add(user)
        session.flush()
    elif repo.membership(workspace_id, user.id) is not None:
        raise Conflict(f"{email} is already a member of this workspace", {"field": "email"})
    session.add(
        Membership(workspace_id=workspace_id, user_id=user.id, role=role, staff_id=staff_id)
    )
    session.flush()
    return user


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    plaintext: str


def create_api_key(
    session: Session, *, workspace_id: int, name: str, role: Role, created_by: int | None = None
) -> CreatedApiKey:
    plaintext = new_api_key()
    key = ApiKey(
        workspace_id=workspace_id,
        name=name,
        prefix=plaintext[:12],
        key_hash=hash_token(plaintext),
        role=role,
        created_by_user_id=created_by,
    )
    session.add(key)
    session.flush()
    return CreatedApiKey(key, plaintext)


def authenticate_api_key(session: Session, plaintext: str, *, ip: str | None = None) -> Principal:
    key = WorkspaceRepository(session).api_key_by_hash(hash_token(plaintext))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
    return Principal(workspace_id=key.workspace_id, role=Role(key.role), api_key_id=key.id, ip=ip)


@dataclass(frozen=True)
class StartedSession:
    token: str
    csrf_token: str
    console_session: ConsoleSession


def login(
    session: Session,
    *,
    email: str,
    password: str,
    ttl: timedelta,
    workspace_slug: str | None = None,
    ip: str | None = None,
) -> StartedSession:
    repo = WorkspaceRepository(session)
    user = repo.user_by_email(email)
    # Hash anyway so a missing user takes as long as a wrong password.
    valid = verify_password(user.password_hash if user else hash_password("x" * 12), password)
    if user is None or not valid or not user.is_active:
        raise Unauthorized("wrong email or password")
    memberships = repo.memberships_of(user.id)
    if workspace_slug is not None:
        workspace = repo.workspace_by_slug(workspace_slug)
        memberships = [m for m in memberships if workspace and m.workspace_id == workspace.id]
    if not memberships:
        raise Unauthorized("this user has no access to the workspace")
    token = new_session_token()
    console_session = ConsoleSession(
        workspace_id=memberships[0].workspace_id,
        user_id=user.id,
        token_hash=hash_token(token),
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + ttl,
        ip=ip,
    )
    session.add(console_session)
    session.flush()
    return StartedSession(token, console_session.csrf_token, console_session)


def resolve_console_session(
    session: Session, token: str, *, ip: str | None = None
) -> tuple[Principal, ConsoleSession]:
    repo = WorkspaceRepository(session)
    console_session = repo.console_session_by_hash(hash_token(token))
    if console_session is None or console_session.expires_at <= utcnow():
        raise Unauthorized("session expired; please sign in again")
    membership = repo.membership(console_session.workspace_id, console_session.user_id)
    if membership is None:
        raise Unauthorized("session expired; please sign in again")
    principal = Principal(
        workspace_id=console_session.workspace_id,
        role=Role(membership.role),
        user_id=console_session.user_id,
        staff_id=membership.staff_id,
        ip=ip,
    )
    return principal, console_session


def logout(session: Session, token: str) -> None:
    console_session = WorkspaceRepository(session).console_session_by_hash(hash_token(token))
    if console_session is not None:
        session.delete(console_session)


def audit(
    session: Session,
    principal: Principal,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a sensitive action (export, delete, merge, role or key change)."""
    session.add(
        AuditEntry(
            workspace_id=principal.workspace_id,
            action=action,
            actor_user_id=principal.user_id,
            actor_api_key_id=principal.api_key_id,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            details=details or {},
            ip=principal.ip,
        )
    )
