"""Request and response payloads of the WeCom server APIs Siyu calls (protocol.md §3).

Field names are WeCom's JSON names. Unknown fields are ignored because WeCom adds fields
without notice; fields WeCom may omit have defaults. Times are unix seconds as WeCom sends
them. Request models are dumped with `exclude_none=True`, so unset options stay unsent.
"""

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WecomModel(BaseModel):
    # WeCom is not consistent about numbers vs strings (gender is "1" in one API, 1 in
    # another; times come as "1605000000" or 1605000000): accept both.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


class WecomResponse(WecomModel):
    """The envelope every API answers with; business fields sit beside these two."""

    errcode: int = 0
    errmsg: str = "ok"


class CursorPage(WecomResponse):
    """A page of a cursor-paged list: an empty `next_cursor` marks the last page."""

    next_cursor: str = ""


# ---------------------------------------------------------------- access token


class AccessTokenResponse(WecomResponse):
    access_token: str
    expires_in: int = 7200


# ------------------------------------------------------- departments and members


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


# ----------------------------------------------------------------- customers


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


# ----------------------------------------------------------------- corp tags


class CorpTag(WecomModel):
    id: str
    name: str = ""
    create_time: int = 0
    order: int = 0
    # only returned when filtering by id
    deleted: bool = False


class CorpTagGroup(WecomModel):
    group_id: str
    group_name: str = ""
    create_time: int = 0
    order: int = 0
    deleted: bool = False
    tag: list[CorpTag] = Field(default_factory=list)


class CorpTagListRequest(WecomModel):
    tag_id: list[str] | None = None
    group_id: list[str] | None = None


class CorpTagListResponse(WecomResponse):
    tag_group: list[CorpTagGroup] = Field(default_factory=list)


class NewCorpTag(WecomModel):
    name: str
    order: int | None = None


class AddCorpTagRequest(WecomModel):
    """Tags go into `group_id`, or into the group named `group_name` (created if new)."""

    group_id: str | None = None
    group_name: str | None = None
    order: int | None = None
    tag: list[NewCorpTag]
    agentid: int | None = None


class AddCorpTagResponse(WecomResponse):
    tag_group: CorpTagGroup


class EditCorpTagRequest(WecomModel):
    """`id` is a tag id or a group id."""

    id: str
    name: str | None = None
    order: int | None = None
    agentid: int | None = None


class DelCorpTagRequest(WecomModel):
    tag_id: list[str] | None = None
    group_id: list[str] | None = None
    agentid: int | None = None


class MarkTagRequest(WecomModel):
    userid: str
    external_userid: str
    add_tag: list[str] = Field(default_factory=list)
    remove_tag: list[str] = Field(default_factory=list)


# ------------------------------------------- message content (welcome, mass send)


class TextContent(WecomModel):
    content: str


class ImagePayload(WecomModel):
    media_id: str | None = None
    pic_url: str | None = None


class LinkPayload(WecomModel):
    title: str
    url: str
    picurl: str | None = None
    desc: str | None = None


class MiniprogramPayload(WecomModel):
    title: str
    pic_media_id: str
    appid: str
    page: str


class MediaPayload(WecomModel):
    media_id: str


AttachmentType = Literal["image", "link", "miniprogram", "video", "file"]


class Attachment(WecomModel):
    """One attachment: `msgtype` names which of the payload fields is set."""

    msgtype: AttachmentType
    image: ImagePayload | None = None
    link: LinkPayload | None = None
    miniprogram: MiniprogramPayload | None = None
    video: MediaPayload | None = None
    file: MediaPayload | None = None

    @model_validator(mode="after")
    def _payload_matches_msgtype(self) -> Self:
        if getattr(self, self.msgtype) is None:
            raise ValueError(f"attachment of msgtype {self.msgtype!r} needs its {self.msgtype!r}")
        return self

    @classmethod
    def of_image(cls, *, media_id: str | None = None, pic_url: str | None = None) -> "Attachment":
        return cls(msgtype="image", image=ImagePayload(media_id=media_id, pic_url=pic_url))

    @classmethod
    def of_link(
        cls, *, title: str, url: str, picurl: str | None = None, desc: str | None = None
    ) -> "Attachment":
        return cls(msgtype="link", link=LinkPayload(title=title, url=url, picurl=picurl, desc=desc))

    @classmethod
    def of_miniprogram(
        cls, *, title: str, pic_media_id: str, appid: str, page: str
    ) -> "Attachment":
        payload = MiniprogramPayload(title=title, pic_media_id=pic_media_id, appid=appid, page=page)
        return cls(msgtype="miniprogram", miniprogram=payload)

    @classmethod
    def of_video(cls, media_id: str) -> "Attachment":
        return cls(msgtype="video", video=MediaPayload(media_id=media_id))

    @classmethod
    def of_file(cls, media_id: str) -> "Attachment":
        return cls(msgtype="file", file=MediaPayload(media_id=media_id))


class SendWelcomeMsgRequest(WecomModel):
    welcome_code: str
    text: TextContent | None = None
    attachments: list[Attachment] | None = None


# --------------------------------------------------------- contact way (联系我)


class ContactWayImage(WecomModel):
    media_id: str


class ContactWayMiniprogram(WecomModel):
    title: str
    pic_media_id: str
    appid: str
    page: str


class Conclusions(WecomModel):
    """The message sent when a temporary chat ends (temporary contact ways only)."""

    text: TextContent | None = None
    image: ContactWayImage | None = None
    link: LinkPayload | None = None
    miniprogram: ContactWayMiniprogram | None = None


class ContactWaySettings(WecomModel):
    """The fields `update_contact_way` may change; lists replace the old ones."""

    style: int | None = None
    remark: str | None = None
    skip_verify: bool | None = None
    state: str | None = None
    user: list[str] | None = None
    party: list[int] | None = None
    expires_in: int | None = None
    chat_expires_in: int | None = None
    unionid: str | None = None
    conclusions: Conclusions | None = None


class AddContactWayRequest(ContactWaySettings):
    # 1 single member, 2 several members
    type: Literal[1, 2]
    # 1 mini-program button, 2 QR code
    scene: Literal[1, 2]
    is_temp: bool | None = None
    is_exclusive: bool | None = None


class UpdateContactWayRequest(ContactWaySettings):
    config_id: str


class AddContactWayResponse(WecomResponse):
    config_id: str
    # only for scene 2
    qr_code: str = ""


class ContactWay(WecomModel):
    config_id: str
    type: int = 1
    scene: int = 2
    style: int | None = None
    remark: str = ""
    skip_verify: bool = True
    state: str = ""
    qr_code: str = ""
    user: list[str] = Field(default_factory=list)
    party: list[int] = Field(default_factory=list)
    is_temp: bool = False
    expires_in: int | None = None
    chat_expires_in: int | None = None
    unionid: str | None = None
    is_exclusive: bool = False
    conclusions: Conclusions | None = None


class GetContactWayResponse(WecomResponse):
    contact_way: ContactWay


class ContactWayRef(WecomModel):
    config_id: str


class ListContactWayRequest(WecomModel):
    start_time: int | None = None
    end_time: int | None = None
    cursor: str | None = None
    limit: int | None = None


class ListContactWayResponse(CursorPage):
    contact_way: list[ContactWayRef] = Field(default_factory=list)


# -------------------------------------------------------------- group chats


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


# ---------------------------------------------------------- inheritance (继承)


class TransferCustomerRequest(WecomModel):
    handover_userid: str
    takeover_userid: str
    external_userid: list[str]
    transfer_success_msg: str | None = None


class TransferStarted(WecomModel):
    """0 = transfer started for this customer."""

    external_userid: str
    errcode: int = 0


class TransferCustomerResponse(WecomResponse):
    customer: list[TransferStarted] = Field(default_factory=list)


class TransferResultRequest(WecomModel):
    handover_userid: str
    takeover_userid: str
    cursor: str | None = None


class TransferStatus(WecomModel):
    external_userid: str
    # 1 done, 2 waiting, 3 customer refused, 4 takeover member full, 5 no transfer record
    status: int
    # the (future) completion time while waiting
    takeover_time: int = 0


class TransferResultResponse(CursorPage):
    customer: list[TransferStatus] = Field(default_factory=list)


class UnassignedCustomer(WecomModel):
    handover_userid: str
    external_userid: str
    dimission_time: int = 0


class UnassignedListResponse(CursorPage):
    info: list[UnassignedCustomer] = Field(default_factory=list)
    is_last: bool = True


# ------------------------------------------------------ mass messages (群发)


class TagFilterGroup(WecomModel):
    tag_list: list[str]


class TagFilter(WecomModel):
    group_list: list[TagFilterGroup]


class AddMsgTemplateRequest(WecomModel):
    chat_type: Literal["single", "group"] | None = None
    external_userid: list[str] | None = None
    chat_id_list: list[str] | None = None
    tag_filter: TagFilter | None = None
    sender: str | None = None
    allow_select: bool | None = None
    text: TextContent | None = None
    attachments: list[Attachment] | None = None


class AddMsgTemplateResponse(WecomResponse):
    msgid: str = ""
    fail_list: list[str] = Field(default_factory=list)


class GroupMsgListRequest(WecomModel):
    chat_type: Literal["single", "group"]
    start_time: int
    end_time: int
    creator: str | None = None
    # 0 corp, 1 personal, 2 all
    filter_type: int | None = None
    limit: int | None = None
    cursor: str | None = None


class GroupMsg(WecomModel):
    msgid: str
    creator: str = ""
    create_time: int = 0
    # 0 corp, 1 personal
    create_type: int = 0
    text: TextContent | None = None
    attachments: list[Attachment] = Field(default_factory=list)


class GroupMsgListResponse(CursorPage):
    group_msg_list: list[GroupMsg] = Field(default_factory=list)


class GroupMsgTask(WecomModel):
    userid: str
    # 0 not sent, 2 sent
    status: int = 0
    send_time: int | None = None


class GroupMsgTaskResponse(CursorPage):
    task_list: list[GroupMsgTask] = Field(default_factory=list)


class GroupMsgSendResult(WecomModel):
    external_userid: str = ""
    chat_id: str = ""
    userid: str = ""
    # 0 not sent, 1 sent, 2 failed: not a friend, 3 failed: quota used up
    status: int = 0
    send_time: int | None = None


class GroupMsgSendResultResponse(CursorPage):
    send_list: list[GroupMsgSendResult] = Field(default_factory=list)


# ----------------------------------------------------------------------- media


class MediaUploadResponse(WecomResponse):
    """`media/upload`: a temporary media id, valid three days from `created_at`."""

    type: str = ""
    media_id: str
    created_at: str = Field(description="Unix seconds, as a string")


class MediaUploadImgResponse(WecomResponse):
    """`media/uploadimg`: a permanent image URL (link covers, rich messages)."""

    url: str
