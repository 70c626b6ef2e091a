"""Who is calling: a console user (session cookie) or an integrator (API key)."""

from dataclasses import dataclass

from siyu.workspace.roles import Role, at_least


@dataclass(frozen=True)
class Principal:
    workspace_id: int
    role: Role
    user_id: int | None = None
    api_key_id: int | None = None
    # A staff-role user sees only the customers this staff member follows.
    staff_id: int | None = None
    ip: str | None = None
    # Set for console users: the session the request came in on.
    console_session_id: int | None = None

    @property
    def actor(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id}"
        if self.api_key_id is not None:
            return f"api_key:{self.api_key_id}"
        return "system"

    def has(self, minimum: Role) -> bool:
        return at_least(self.role, minimum)

    @property
    def scoped_to_staff(self) -> bool:
        return self.role is Role.STAFF

    @classmethod
    def system(cls, workspace_id: int) -> "Principal":
        """The principal jobs and CLI commands act as: full rights in one workspace."""
        return cls(workspace_id=workspace_id, role=Role.ADMIN)
