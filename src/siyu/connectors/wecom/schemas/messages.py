"""What Siyu sends: message content and attachments, welcome messages, mass messages
(群发) and the media they carry (protocol.md §3.5–3.6)."""

from typing import Literal, Self

from pydantic import Field, model_validator

from siyu.connectors.wecom.schemas.base import CursorPage, WecomModel, WecomResponse


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
