from datetime import datetime

from pydantic import BaseModel, Field

BODY_MAX_LENGTH = 2000


class FollowUpIn(BaseModel):
    body: str = Field(min_length=1, max_length=BODY_MAX_LENGTH, description="the note, plain text")


class FollowUpOut(BaseModel):
    id: int
    customer_id: int
    body: str
    author_name: str | None = Field(description="the staff member, user or API key who wrote it")
    author_user_id: int | None
    author_staff_id: int | None
    created_at: datetime
