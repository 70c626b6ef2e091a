"""Queries of the workspace domain."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.models import ApiKey, ConsoleSession, Membership, User, Workspace


class WorkspaceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def workspace_by_slug(self, slug: str) -> Workspace | None:
        return self.session.scalar(select(Workspace).where(Workspace.slug == slug))

    def workspace(self, workspace_id: int) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)

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
                select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
            )
        )

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def console_session_by_hash(self, token_hash: str) -> ConsoleSession | None:
        return self.session.scalar(
            select(ConsoleSession).where(ConsoleSession.token_hash == token_hash)
        )
