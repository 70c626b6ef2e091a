"""Workspaces, members, API keys and the audit log.

Console sign-in and sessions live in `siyu.workspace.sessions`.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy.orm import Session

from siyu.exceptions import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from siyu.kit.pagination import PageOut, SortSpec, paginate
from siyu.kit.time import utcnow
from siyu.models import ApiKey, AuditEntry, Membership, User, Workspace
from siyu.workspace.principal import Principal
from siyu.workspace.repository import WorkspaceRepository
from siyu.workspace.roles import Role
from siyu.workspace.schemas import AuditEntryOut, MemberUpdate, WorkspaceUpdate
from siyu.workspace.security import hash_password, hash_token, new_api_key

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MIN_PASSWORD_LENGTH = 8
ACTOR_PATTERN = re.compile(r"^(user|api_key):(\d+)$")


def check_password_rules(password: str, *, field_name: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(field_name, f"must be at least {MIN_PASSWORD_LENGTH} characters")


# --- workspaces -------------------------------------------------------------------------


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


def list_workspaces(session: Session) -> list[Workspace]:
    """Every workspace of the installation (installation-wide housekeeping)."""
    return WorkspaceRepository(session).workspaces()


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


def update_workspace(session: Session, principal: Principal, changes: WorkspaceUpdate) -> Workspace:
    workspace = get_workspace(session, principal.workspace_id)
    before: dict[str, Any] = {}
    if changes.name is not None and changes.name.strip() != workspace.name:
        if not changes.name.strip():
            raise ValidationFailed("name", "must not be blank")
        before["name"] = workspace.name
        workspace.name = changes.name.strip()
    if changes.timezone is not None and changes.timezone != workspace.timezone:
        if changes.timezone not in available_timezones():
            raise ValidationFailed("timezone", "not an IANA time zone such as Asia/Shanghai")
        before["timezone"] = workspace.timezone
        workspace.timezone = changes.timezone
    if before:
        after = {key: getattr(workspace, key) for key in before}
        audit(
            session,
            principal,
            "workspace.update",
            target_type="workspace",
            target_id=workspace.id,
            details={"before": before, "after": after},
        )
        session.flush()
    return workspace


# --- members ----------------------------------------------------------------------------


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
    """Create a user (or reuse one with this email) and give them a role in the workspace.

    An existing user keeps their own password: the one given here is for new accounts.
    """
    check_password_rules(password)
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed("email", "not an email address")
    repo = WorkspaceRepository(session)
    if staff_id is not None:
        _check_staff(session, workspace_id, staff_id)
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
class Member:
    user: User
    membership: Membership


def _check_staff(session: Session, workspace_id: int, staff_id: int) -> None:
    if not WorkspaceRepository(session).staff_exists(workspace_id, staff_id):
        raise ValidationFailed("staff_id", "no such staff member in this workspace")


def invite_member(
    session: Session,
    principal: Principal,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    staff_id: int | None = None,
) -> Member:
    _check_may_grant(principal, role)
    user = create_user(
        session,
        workspace_id=principal.workspace_id,
        email=email,
        name=name,
        password=password,
        role=role,
        staff_id=staff_id,
    )
    audit(
        session,
        principal,
        "user.invite",
        target_type="user",
        target_id=user.id,
        details={"email": user.email, "role": role.value, "staff_id": staff_id},
    )
    return get_member(session, principal, user.id)


def get_member(session: Session, principal: Principal, user_id: int) -> Member:
    repo = WorkspaceRepository(session)
    membership = repo.membership(principal.workspace_id, user_id)
    user = repo.user(user_id) if membership is not None else None
    if membership is None or user is None:
        raise NotFound("user")
    return Member(user, membership)


MEMBER_SORTS = ("joined_at", "email")


def list_members(
    session: Session,
    principal: Principal,
    *,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Member], str | None]:
    repo = WorkspaceRepository(session)
    spec = SortSpec.parse(sort, MEMBER_SORTS, "joined_at")
    stmt, page = paginate(
        repo.members_query(principal.workspace_id),
        columns={"joined_at": Membership.id.expression, "email": User.email.expression},
        id_column=Membership.id.expression,
        sort=spec,
        cursor=cursor,
        limit=limit,
    )
    rows = [Member(user, membership) for membership, user in session.execute(stmt)]

    def key_of(member: Member, name: str) -> Any:
        return member.user.email if name == "email" else member.membership.id

    return page.build(rows, key_of)


def _is_effective_admin(member: Member) -> bool:
    return (
        member.membership.role == Role.ADMIN.value
        and member.membership.is_active
        and member.user.is_active
    )


def _protect_last_admin(session: Session, principal: Principal, member: Member) -> None:
    repo = WorkspaceRepository(session)
    if _is_effective_admin(member) and repo.count_active_admins(principal.workspace_id) <= 1:
        raise Conflict(
            "this is the workspace's last admin; make someone else admin first",
            {"user_id": member.user.id},
        )


def _check_may_grant(principal: Principal, role: Role) -> None:
    if not principal.has(role):
        raise Forbidden(f"a {principal.role.value} cannot grant the {role.value} role")


def update_member(
    session: Session, principal: Principal, user_id: int, changes: MemberUpdate
) -> Member:
    """Change a member's role, staff link or active flag; the last admin stays an admin."""
    member = get_member(session, principal, user_id)
    membership = member.membership
    sent = changes.model_fields_set
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if "role" in sent and changes.role is None:
        raise ValidationFailed("role", "must be one of admin, operator, staff, viewer")
    if "is_active" in sent and changes.is_active is None:
        raise ValidationFailed("is_active", "must be true or false")
    demotes = changes.role is not None and changes.role is not Role.ADMIN
    deactivates = changes.is_active is False
    if demotes or deactivates:
        _protect_last_admin(session, principal, member)
    if changes.role is not None and changes.role.value != membership.role:
        _check_may_grant(principal, changes.role)
        before["role"], after["role"] = membership.role, changes.role.value
        membership.role = changes.role.value
    if "staff_id" in sent and changes.staff_id != membership.staff_id:
        if changes.staff_id is not None:
            _check_staff(session, principal.workspace_id, changes.staff_id)
        before["staff_id"], after["staff_id"] = membership.staff_id, changes.staff_id
        membership.staff_id = changes.staff_id
    if changes.is_active is not None and changes.is_active != membership.is_active:
        before["is_active"], after["is_active"] = membership.is_active, changes.is_active
        membership.is_active = changes.is_active
        if not changes.is_active:
            WorkspaceRepository(session).end_sessions(
                user_id=user_id, workspace_id=principal.workspace_id
            )
    if after:
        audit(
            session,
            principal,
            "user.role_change" if "role" in after else "user.update",
            target_type="user",
            target_id=user_id,
            details={"before": before, "after": after},
        )
        session.flush()
    return member


def remove_member(session: Session, principal: Principal, user_id: int) -> None:
    member = get_member(session, principal, user_id)
    _protect_last_admin(session, principal, member)
    WorkspaceRepository(session).end_sessions(user_id=user_id, workspace_id=principal.workspace_id)
    session.delete(member.membership)
    audit(
        session,
        principal,
        "user.remove",
        target_type="user",
        target_id=user_id,
        details={"email": member.user.email, "role": member.membership.role},
    )
    session.flush()


# --- API keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    plaintext: str = field(repr=False)


def create_api_key(
    session: Session, *, workspace_id: int, name: str, role: Role, created_by: int | None = None
) -> CreatedApiKey:
    """Create a key; only its SHA-256 is stored, the plaintext is returned this once."""
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


def issue_api_key(
    session: Session, principal: Principal, *, name: str, role: Role
) -> CreatedApiKey:
    """A principal creates a key in its workspace, never of a higher role than its own."""
    if not principal.has(role):
        raise Forbidden(f"a {principal.role.value} cannot create a key with the {role.value} role")
    if not name.strip():
        raise ValidationFailed("name", "must not be blank")
    created = create_api_key(
        session,
        workspace_id=principal.workspace_id,
        name=name.strip(),
        role=role,
        created_by=principal.user_id,
    )
    audit(
        session,
        principal,
        "api_key.create",
        target_type="api_key",
        target_id=created.api_key.id,
        details={
            "name": created.api_key.name,
            "role": role.value,
            "prefix": created.api_key.prefix,
        },
    )
    return created


def list_api_keys(
    session: Session, principal: Principal, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[ApiKey], str | None]:
    stmt, page = paginate(
        WorkspaceRepository(session).api_keys_query(principal.workspace_id),
        columns={"id": ApiKey.id.expression},
        id_column=ApiKey.id.expression,
        sort=SortSpec("id", descending=True),
        cursor=cursor,
        limit=limit,
    )
    return page.build(list(session.scalars(stmt)))


def revoke_api_key(session: Session, principal: Principal, api_key_id: int) -> ApiKey:
    key = WorkspaceRepository(session).api_key(principal.workspace_id, api_key_id)
    if key is None:
        raise NotFound("api key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit(
            session,
            principal,
            "api_key.revoke",
            target_type="api_key",
            target_id=key.id,
            details={"name": key.name, "prefix": key.prefix},
        )
        session.flush()
    return key


def authenticate_api_key(
    session: Session, plaintext: str, *, ip: str | None = None
) -> tuple[Principal, bool]:
    """The key's principal, and whether its use is due to be recorded: at most once a
    minute, so busy integrations do not write on every call (`record_api_key_use`)."""
    key = WorkspaceRepository(session).api_key_by_hash(hash_token(plaintext))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    due = key.last_used_at is None or utcnow() - key.last_used_at > timedelta(minutes=1)
    principal = Principal(
        workspace_id=key.workspace_id, role=Role(key.role), api_key_id=key.id, ip=ip
    )
    return principal, due


def record_api_key_use(session: Session, api_key_id: int) -> None:
    key = session.get(ApiKey, api_key_id)
    if key is not None:
        key.last_used_at = utcnow()
        session.flush()


# --- audit log --------------------------------------------------------------------------


def audit(
    session: Session,
    principal: Principal,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a sensitive action (export, delete, merge, role or key change).

    The entry joins the caller's unit of work: it exists exactly when the action commits.
    """
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


def list_audit_entries(
    session: Session,
    principal: Principal,
    *,
    action: str | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[AuditEntryOut]:
    """Newest first, each with its actor's name; `actor` is `user:<id>` or `api_key:<id>`;
    `until` is exclusive."""
    actor_user_id = actor_api_key_id = None
    if actor is not None:
        match = ACTOR_PATTERN.match(actor.strip())
        if match is None:
            raise ValidationFailed("actor", "use user:<id> or api_key:<id>")
        if match.group(1) == "user":
            actor_user_id = int(match.group(2))
        else:
            actor_api_key_id = int(match.group(2))
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(
                name, "include a time zone offset, e.g. 2025-01-01T00:00:00+08:00"
            )
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("until", "must be after since")
    stmt, page = paginate(
        WorkspaceRepository(session).audit_query(
            principal.workspace_id,
            action=action,
            actor_user_id=actor_user_id,
            actor_api_key_id=actor_api_key_id,
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
        ),
        columns={"created_at": AuditEntry.created_at.expression},
        id_column=AuditEntry.id.expression,
        sort=SortSpec("created_at", descending=True),
        cursor=cursor,
        limit=limit,
    )
    entries, next_cursor = page.build(list(session.scalars(stmt)))
    names = actor_names(
        session,
        principal.workspace_id,
        user_ids=[e.actor_user_id for e in entries],
        api_key_ids=[e.actor_api_key_id for e in entries],
    )
    return PageOut(
        items=[
            AuditEntryOut.model_validate(e).model_copy(
                update={"actor_name": names.name(e.actor_user_id, e.actor_api_key_id)}
            )
            for e in entries
        ],
        next_cursor=next_cursor,
    )


@dataclass(frozen=True)
class ActorNames:
    users: dict[int, str]
    api_keys: dict[int, str]

    def name(self, user_id: int | None, api_key_id: int | None) -> str | None:
        if user_id is not None:
            return self.users.get(user_id)
        if api_key_id is not None:
            return self.api_keys.get(api_key_id)
        return None


def actor_names(
    session: Session,
    workspace_id: int,
    *,
    user_ids: Sequence[int | None] = (),
    api_key_ids: Sequence[int | None] = (),
) -> ActorNames:
    """Display names of the users and API keys that acted in the workspace (two queries)."""
    repo = WorkspaceRepository(session)
    return ActorNames(
        users=repo.user_names(workspace_id, [i for i in user_ids if i is not None]),
        api_keys=repo.api_key_names(workspace_id, [i for i in api_key_ids if i is not None]),
    )
