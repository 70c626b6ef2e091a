"""Customer groups (客户群, protocol.md §3.7)."""

from pydantic import Field

from siyu.connectors.wecom.schemas.base import CursorPage, WecomModel, WecomResponse


class OwnerFilter(WecomModel):
    userid_list: list[str]


class GroupChatListRequest(WecomModel):
    # 0 all, 1 owner resigned, 2 inheritance in progress, 3 inherited
    status_filter: int | None = None
    owner_filter: OwnerFilter | None = None
    cursor: str | None = None
    limit: int


class GroupChatRef(WecomModel):
    chat_id: str
    status: int = 0


class GroupChatListResponse(CursorPage):
    group_chat_list: list[GroupChatRef] = Field(default_factory=list)


class GroupChatInvitor(WecomModel):
    userid: str = ""


class GroupChatMember(WecomModel):
    userid: str
    # 1 member, 2 external contact
    type: int = 1
    unionid: str | None = None
    join_time: int = 0
    # 1 invited directly, 2 via invite link, 3 scanned the group QR code
    join_scene: int = 0
    invitor: GroupChatInvitor | None = None
    group_nickname: str = ""
    name: str = ""


class GroupChatAdmin(WecomModel):
    userid: str


class GroupChat(WecomModel):
    chat_id: str
    name: str = ""
    owner: str = ""
    create_time: int = 0
    notice: str = ""
    member_list: list[GroupChatMember] = Field(default_factory=list)
    admin_list: list[GroupChatAdmin] = Field(default_factory=list)
    member_version: str = ""


class GroupChatGetResponse(WecomResponse):
    group_chat: GroupChat
