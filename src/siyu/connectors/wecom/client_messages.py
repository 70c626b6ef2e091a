"""The WeCom APIs that carry Siyu's messages: welcome messages, mass messages (群发) and the
media they attach. `WecomClient` (client.py) has these and every other API.
"""

import mimetypes
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Literal

from siyu.connectors.wecom.schemas.base import WecomResponse
from siyu.connectors.wecom.schemas.messages import (
    AddMsgTemplateRequest,
    AddMsgTemplateResponse,
    Attachment,
    GroupMsg,
    GroupMsgListRequest,
    GroupMsgListResponse,
    GroupMsgSendResult,
    GroupMsgSendResultResponse,
    GroupMsgTask,
    GroupMsgTaskResponse,
    MediaUploadImgResponse,
    MediaUploadResponse,
    SendWelcomeMsgRequest,
    TextContent,
)
from siyu.connectors.wecom.transport import WecomTransport


class MessageCalls(WecomTransport):
    # ------------------------------------------------------------ welcome message

    async def externalcontact_send_welcome_msg(
        self, welcome_code: str, text: str | None = None, attachments: Sequence[Attachment] = ()
    ) -> WecomResponse:
        request = SendWelcomeMsgRequest(
            welcome_code=welcome_code,
            text=TextContent(content=text) if text is not None else None,
            attachments=list(attachments) or None,
        )
        data = await self._post("externalcontact/send_welcome_msg", request, read=False)
        return WecomResponse.model_validate(data)

    # ------------------------------------------------------------- mass messages

    async def externalcontact_add_msg_template(
        self, request: AddMsgTemplateRequest
    ) -> AddMsgTemplateResponse:
        data = await self._post("externalcontact/add_msg_template", request, read=False)
        return AddMsgTemplateResponse.model_validate(data)

    async def externalcontact_remind_groupmsg_send(self, msgid: str) -> None:
        """Remind the members who have not confirmed the task yet (at most 3 times a day)."""
        await self._send(
            "POST", "externalcontact/remind_groupmsg_send", body={"msgid": msgid}, read=False
        )

    async def externalcontact_cancel_groupmsg_send(self, msgid: str) -> None:
        """Stop a task: members who have not sent it can no longer send it."""
        await self._send(
            "POST", "externalcontact/cancel_groupmsg_send", body={"msgid": msgid}, read=False
        )

    async def externalcontact_get_groupmsg_list_v2(
        self,
        chat_type: Literal["single", "group"],
        start_time: int,
        end_time: int,
        *,
        creator: str | None = None,
        filter_type: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> GroupMsgListResponse:
        request = GroupMsgListRequest(
            chat_type=chat_type,
            start_time=start_time,
            end_time=end_time,
            creator=creator,
            filter_type=filter_type,
            limit=limit,
            cursor=cursor or None,
        )
        data = await self._post("externalcontact/get_groupmsg_list_v2", request, read=True)
        return GroupMsgListResponse.model_validate(data)

    async def iter_groupmsg_list_v2(
        self,
        chat_type: Literal["single", "group"],
        start_time: int,
        end_time: int,
        *,
        creator: str | None = None,
        filter_type: int | None = None,
    ) -> AsyncIterator[GroupMsg]:
        async for page in self.pages(
            lambda c: self.externalcontact_get_groupmsg_list_v2(
                chat_type,
                start_time,
                end_time,
                creator=creator,
                filter_type=filter_type,
                limit=100,
                cursor=c,
            )
        ):
            for row in page.group_msg_list:
                yield row

    async def externalcontact_get_groupmsg_task(
        self, msgid: str, cursor: str | None = None, limit: int | None = None
    ) -> GroupMsgTaskResponse:
        body = {"msgid": msgid, "cursor": cursor or None, "limit": limit}
        data = await self._send(
            "POST",
            "externalcontact/get_groupmsg_task",
            body={k: v for k, v in body.items() if v is not None},
            read=True,
        )
        return GroupMsgTaskResponse.model_validate(data)

    async def iter_groupmsg_task(self, msgid: str) -> AsyncIterator[GroupMsgTask]:
        async for page in self.pages(
            lambda c: self.externalcontact_get_groupmsg_task(msgid, c, 1000)
        ):
            for row in page.task_list:
                yield row

    async def externalcontact_get_groupmsg_send_result(
        self, msgid: str, userid: str, cursor: str | None = None, limit: int | None = None
    ) -> GroupMsgSendResultResponse:
        body = {"msgid": msgid, "userid": userid, "cursor": cursor or None, "limit": limit}
        data = await self._send(
            "POST",
            "externalcontact/get_groupmsg_send_result",
            body={k: v for k, v in body.items() if v is not None},
            read=True,
        )
        return GroupMsgSendResultResponse.model_validate(data)

    async def iter_groupmsg_send_result(
        self, msgid: str, userid: str
    ) -> AsyncIterator[GroupMsgSendResult]:
        async for page in self.pages(
            lambda c: self.externalcontact_get_groupmsg_send_result(msgid, userid, c, 1000)
        ):
            for row in page.send_list:
                yield row

    # ---------------------------------------------------------------------- media

    async def media_upload(
        self, media_type: Literal["image", "voice", "video", "file"], filename: str, content: bytes
    ) -> MediaUploadResponse:
        """Upload a temporary media file (valid three days) as the multipart field `media`."""
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        data = await self._send(
            "POST",
            "media/upload",
            params={"type": media_type},
            files={"media": (filename, content, kind)},
            read=False,
        )
        return MediaUploadResponse.model_validate(data)

    async def upload_media(
        self, media_type: Literal["image", "voice", "video", "file"], filename: str, content: bytes
    ) -> tuple[str, datetime]:
        """`media_upload` as (media_id, created_at as an aware UTC datetime)."""
        result = await self.media_upload(media_type, filename, content)
        return result.media_id, datetime.fromtimestamp(int(result.created_at), UTC)

    async def media_uploadimg(self, filename: str, content: bytes) -> MediaUploadImgResponse:
        """Upload a JPG/PNG image (≤ 2 MB) for a permanent URL, e.g. a link's cover."""
        kind = mimetypes.guess_type(filename)[0] or "image/jpeg"
        data = await self._send(
            "POST", "media/uploadimg", files={"media": (filename, content, kind)}, read=False
        )
        return MediaUploadImgResponse.model_validate(data)
