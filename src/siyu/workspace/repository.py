"""Queries of the workspace domain. Every tenant-owned query filters by workspace_id."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from siyu.models import ApiKey, AuditEntry, ConsoleSession, Membership, Staff, User, Workspace
from siyu.workspace.roles import Role


class WorkspaceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # Workspaces and users are global rows; they are reached through memberships.
    def workspace_by_slug(self, slug: str) -> Workspace | None:
        return self.session.scalar(select(Workspace).where(Workspace.slug == slug))

    def workspaces(self) -> list[Workspace]:
        return list(self.session.scalars(select(Workspace).order_by(Workspace.id)))

    def workspace(self, workspace_id: int) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)

    def user(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def user_by_email(self, email: str) -> User | None:
        return self.session.scalar(select(User).where(User.email == email.strip().lower()))

    def membership(self, workspace_id: int, user_id: int) -> Membership | None:
        return self.session.scalar(
            select(Membership).where(
                Membership.workspace_id == workspace_id, Membership.user_id == user_id
            )
        )

    def memberships_of(self, user_id: int) -> list[Membership]:
        return list(
            self.session.scalars(
                select(Membership)
                .where(Membership.user_id == user_id, Membership.is_active.is_(True))
                .order_by(Membership.id)
            )
        )

    def members_query(self, workspace_id: int) -> Select[Any]:
        """(Membership, User) rows; typed loosely because `paginate` takes `Select[Any]`."""
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.workspace_id == workspace_id)
        )
        return cast("Select[Any]", stmt)

    def staff_exists(self, workspace_id: int, staff_id: int) -> bool:
        found = self.session.scalar(
            select(Staff.id).where(Staff.workspace_id == workspace_id, Staff.id == staff_id)
        )
        return found is not None

    def count_active_admins(self, workspace_id: int) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(Membership)
                .join(User, User.id == Membership.user_id)
                .where(
                    Membership.workspace_id == workspace_id,
                    Membership.role == Role.ADMIN.value,
                    Membership.is_active.is_(True),
                    User.is_active.is_(True),
                )
            )
            or 0
        )

    def api_key(self, workspace_id: int, api_key_id: int) -> ApiKey | None:
        return self.session.scalar(
            select(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.id == api_key_id)
        )

    def api_keys_query(self, workspace_id: int) -> Select[ApiKey]:
        return select(ApiKey).where(ApiKey.workspace_id == workspace_id)

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        # Lookup by a 256-bit secret's hash: the hash itself identifies the tenant.
        return self.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def console_session_by_hash(self, token_hash: str) -> ConsoleSession | None:
        return self.session.scalar(
            select(ConsoleSession).where(ConsoleSession.token_hash == token_hash)
        )

    def end_sessions(
        self, *, user_id: int, workspace_id: int | None = None, keep_id: int | None = None
    ) -> None:
        """Delete a user's console sessions (in one workspace, or all), except `keep_id`."""
        stmt = delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
        if workspace_id is not None:
            stmt = stmt.where(ConsoleSession.workspace_id == workspace_id)
        if keep_id is not None:
            stmt = stmt.where(ConsoleSession.id != keep_id)
        self.session.execute(stmt, execution_options={"synchronize_session": "fetch"})

    def end_expired_sessions(self, user_id: int, now: datetime) -> None:
        self.session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.user_id == user_id, ConsoleSession.expires_at <= now
            ),
            execution_options={"synchronize_session": False},
        )

    def user_names(self, workspace_id: int, user_ids: Sequence[int]) -> dict[int, str]:
        """Names of the workspace's members among `user_ids`."""
        if not user_ids:
            return {}
        rows = self.session.execute(
            select(User.id, User.name)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.workspace_id == workspace_id, User.id.in_(set(user_ids)))
        )
        return dict(rows.all())

    def api_key_names(self, workspace_id: int, api_key_ids: Sequence[int]) -> dict[int, str]:
        if not api_key_ids:
            return {}
        rows = self.session.execute(
            select(ApiKey.id, ApiKey.name).where(
                ApiKey.workspace_id == workspace_id, ApiKey.id.in_(set(api_key_ids))
            )
        )
        return dict(rows.all())

    def audit_query(
        self,
        workspace_id: int,
        *,
        action: str | None = None,
        actor_user_id: int | None = None,
        actor_api_key_id: int | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[AuditEntry]:
        conditions: list[Any] = [AuditEntry.workspace_id == workspace_id]
        if action is not None:
            conditions.append(AuditEntry.action == action)
        if actor_user_id is not None:
            conditions.append(AuditEntry.actor_user_id == actor_user_id)
        if actor_api_key_id is not None:
            conditions.append(AuditEntry.actor_api_key_id == actor_api_key_id)
        if target_type is not None:
            conditions.append(AuditEntry.target_type == target_type)
        if target_id is not None:
            conditions.append(AuditEntry.target_id == target_id)
        if since is not None:
            conditions.append(AuditEntry.created_at >= since)
        if until is not None:
            conditions.append(AuditEntry.created_at < until)
        return select(AuditEntry).where(*conditions)
