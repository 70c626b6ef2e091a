"""Contact ways (联系我, protocol.md §3.4)."""

from typing import Literal

from pydantic import Field

from siyu.connectors.wecom.schemas.base import CursorPage, WecomModel, WecomResponse
from siyu.connectors.wecom.schemas.messages import LinkPayload, TextContent


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
