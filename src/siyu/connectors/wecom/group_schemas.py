"""Console API shapes of WeCom customer groups (客户群)."""

from datetime import datetime

from pydantic import BaseModel


class GroupOut(BaseModel):
    id: int
    chat_id: str
    name: str
    owner_userid: str | None
    owner_staff_id: int | None
    owner_name: str | None
    status: str  # active | dismissed
    member_count: int  # as WeCom last reported it
    customer_count: int  # active members who are customers
    staff_count: int  # active members who are staff
    group_created_at: datetime | None
    synced_at: datetime | None


class GroupMemberOut(BaseModel):
    id: int
    member_type: str  # staff | external
    member_id: str  # userid or external_userid
    name: str | None
    customer_id: int | None  # the customer an external member is (link to the 360 page)
    customer_name: str | None
    join_time: datetime | None
    join_scene: int | None  # 1 invited directly, 2 by link, 3 by QR code
    invitor: str | None
    status: str  # active | left
    left_at: datetime | None


class GroupDetailOut(GroupOut):
    notice: str | None
    members: list[GroupMemberOut]
