from pydantic import BaseModel, Field

from siyu.workspace.roles import Role


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=200)
    workspace: str | None = Field(
        default=None, description="workspace slug; the first one if omitted"
    )


class MeOut(BaseModel):
    workspace_id: int
    workspace_slug: str
    workspace_name: str
    role: Role
    user_id: int | None
    api_key_id: int | None
    staff_id: int | None
    csrf_token: str | None = None
