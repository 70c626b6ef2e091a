"""Customers (external contacts) and what each member knows of them (protocol.md §3.2)."""

from typing import Any

from pydantic import Field

from siyu.connectors.wecom.schemas.base import CursorPage, WecomModel, WecomResponse


class ExternalContact(WecomModel):
    external_userid: str
    name: str = ""
    position: str = ""
    avatar: str = ""
    corp_name: str = ""
    corp_full_name: str = ""
    # 1 WeChat user, 2 WeCom user
    type: int = 1
    # 0 unknown, 1 male, 2 female
    gender: int = 0
    unionid: str | None = None
    external_profile: dict[str, Any] | None = None


class FollowUserTag(WecomModel):
    group_name: str = ""
    tag_name: str = ""
    # absent for personal tags (type 2)
    tag_id: str | None = None
    # 1 corp tag, 2 personal tag, 3 rule-group tag
    type: int = 1


class WechatChannels(WecomModel):
    nickname: str = ""
    source: int = 0


class FollowCommon(WecomModel):
    """What a member knows about a customer: shared by `follow_user` and `follow_info`."""

    userid: str
    remark: str = ""
    description: str = ""
    createtime: int = 0
    remark_corp_name: str = ""
    remark_mobiles: list[str] = Field(default_factory=list)
    oper_userid: str = ""
    add_way: int = 0
    state: str | None = None
    wechat_channels: WechatChannels | None = None


class FollowUser(FollowCommon):
    """An entry of `externalcontact/get` → `follow_user[]`: tags with their names."""

    tags: list[FollowUserTag] = Field(default_factory=list)


class FollowInfo(FollowCommon):
    """`batch/get_by_user` → `follow_info`: the corp tag ids only."""

    tag_id: list[str] = Field(default_factory=list)


class ExternalContactListResponse(WecomResponse):
    external_userid: list[str] = Field(default_factory=list)


class ExternalContactGetResponse(CursorPage):
    external_contact: ExternalContact
    follow_user: list[FollowUser] = Field(default_factory=list)


class ExternalContactWithFollowInfo(WecomModel):
    external_contact: ExternalContact
    follow_info: FollowInfo


class BatchGetByUserResponse(CursorPage):
    external_contact_list: list[ExternalContactWithFollowInfo] = Field(default_factory=list)


class RemarkRequest(WecomModel):
    userid: str
    external_userid: str
    remark: str | None = None
    description: str | None = None
    remark_company: str | None = None
    remark_mobiles: list[str] | None = None
    remark_pic_mediaid: str | None = None
