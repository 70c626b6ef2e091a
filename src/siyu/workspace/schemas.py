from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from siyu.workspace.roles import Role


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=200)
    workspace: str | None = Field(
        default=None, description="workspace slug; the first one if omitted"
    )


class SwitchWorkspaceIn(BaseModel):
    slug: str = Field(min_length=1, max_length=64)


class PasswordChangeIn(BaseModel):
    current_password: SecretStr = Field(min_length=1, max_length=200)
    new_password: SecretStr = Field(max_length=200)


class MeOut(BaseModel):
    workspace_id: int
    workspace_slug: str
    workspace_name: str
    role: Role
    user_id: int | None
    api_key_id: int | None
    staff_id: int | None
    csrf_token: str | None = None


class WorkspaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    timezone: str
    created_at: datetime


class WorkspaceUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)


class MemberOut(BaseModel):
    id: int = Field(description="the user's id")
    email: str
    name: str
    role: Role
    staff_id: int | None
    is_active: bool
    joined_at: datetime


class MemberInvite(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=100)
    password: SecretStr = Field(description="initial password, at least 8 characters")
    role: Role
    staff_id: int | None = None


class MemberUpdate(BaseModel):
    """Only the fields sent change; `staff_id: null` unlinks the staff member."""

    role: Role | None = None
    staff_id: int | None = None
    is_active: bool | None = None


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    role: Role
    created_by_user_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself; shown only in this response")


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    actor_user_id: int | None
    actor_api_key_id: int | None
    actor_name: str | None = Field(default=None, description="the user's or API key's name")
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    ip: str | None
    created_at: datetime
