"""Departments and members (通讯录, protocol.md §3.1)."""

from typing import Any

from pydantic import Field

from siyu.connectors.wecom.schemas.base import CursorPage, WecomModel, WecomResponse


class Department(WecomModel):
    id: int
    name: str = ""
    name_en: str | None = None
    department_leader: list[str] = Field(default_factory=list)
    parentid: int = 0
    order: int = 0


class DepartmentListResponse(WecomResponse):
    department: list[Department] = Field(default_factory=list)


class DepartmentId(WecomModel):
    id: int
    parentid: int = 0
    order: int = 0


class DepartmentSimpleListResponse(WecomResponse):
    department_id: list[DepartmentId] = Field(default_factory=list)


class MemberBrief(WecomModel):
    userid: str
    name: str = ""
    department: list[int] = Field(default_factory=list)
    open_userid: str | None = None


class UserSimpleListResponse(WecomResponse):
    userlist: list[MemberBrief] = Field(default_factory=list)


class Member(WecomModel):
    """A member in detail. Apps created after 2022-06-20 no longer receive avatar, gender,
    mobile, email, biz_mail, qr_code or address, hence the defaults."""

    userid: str
    name: str = ""
    department: list[int] = Field(default_factory=list)
    order: list[int] = Field(default_factory=list)
    position: str = ""
    mobile: str = ""
    gender: str = ""
    email: str = ""
    biz_mail: str = ""
    is_leader_in_dept: list[int] = Field(default_factory=list)
    direct_leader: list[str] = Field(default_factory=list)
    avatar: str = ""
    thumb_avatar: str = ""
    telephone: str = ""
    alias: str = ""
    # 1 active, 2 disabled, 4 not activated, 5 resigned
    status: int = 1
    address: str = ""
    english_name: str = ""
    open_userid: str | None = None
    main_department: int | None = None
    extattr: dict[str, Any] | None = None
    qr_code: str = ""
    external_position: str = ""
    external_profile: dict[str, Any] | None = None


class UserListResponse(WecomResponse):
    userlist: list[Member] = Field(default_factory=list)


class UserGetResponse(Member, WecomResponse):
    pass


class DeptUser(WecomModel):
    """One row per (member, department) pair."""

    userid: str
    department: int


class UserListIdResponse(CursorPage):
    dept_user: list[DeptUser] = Field(default_factory=list)


class FollowUserListResponse(WecomResponse):
    follow_user: list[str] = Field(default_factory=list)
