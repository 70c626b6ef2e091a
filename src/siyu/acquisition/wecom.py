"""The WeCom calls live codes make, through the workspace's client."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from siyu.connectors.wecom.clients import client_for
from siyu.connectors.wecom.errors import WecomApiError
from siyu.connectors.wecom.schemas.contact_ways import AddContactWayRequest, UpdateContactWayRequest
from siyu.connectors.wecom.schemas.messages import Attachment

__all__ = ["ContactWay", "WecomApiError", "describe"]

SCENE_QR_CODE = 2
TYPE_SINGLE, TYPE_MULTI = 1, 2
# WeCom's "invalid config_id": the contact way is already gone.
INVALID_CONFIG_ID = 41044


@dataclass(frozen=True)
class ContactWay:
    code_type: str
    state: str
    remark: str
    skip_verify: bool
    userids: list[str]

    def settings(self) -> dict[str, Any]:
        return {
            "remark": self.remark,
            "skip_verify": self.skip_verify,
            "state": self.state,
            "user": self.userids,
        }


def describe(exc: WecomApiError) -> str:
    """WeCom's refusal as users see it: code, message and the hint when there is one."""
    text = f"{exc.errcode}: {exc.errmsg}"
    return f"{text} — {exc.hint}" if exc.hint else text


async def add_contact_way(
    session: Session, workspace_id: int, way: ContactWay
) -> tuple[str, str | None]:
    """Create the contact way (a QR code); returns its config_id and qr_code URL."""
    request = AddContactWayRequest(
        type=TYPE_SINGLE if way.code_type == "single" else TYPE_MULTI,
        scene=SCENE_QR_CODE,
        **way.settings(),
    )
    async with client_for(session, workspace_id) as client:
        result = await client.externalcontact_add_contact_way(request)
    return result.config_id, result.qr_code or None


async def update_contact_way(
    session: Session, workspace_id: int, config_id: str, way: ContactWay
) -> None:
    request = UpdateContactWayRequest(config_id=config_id, **way.settings())
    async with client_for(session, workspace_id) as client:
        await client.externalcontact_update_contact_way(request)


async def del_contact_way(session: Session, workspace_id: int, config_id: str) -> None:
    """Delete the contact way; one WeCom no longer knows counts as deleted."""
    try:
        async with client_for(session, workspace_id) as client:
            await client.externalcontact_del_contact_way(config_id)
    except WecomApiError as exc:
        if exc.errcode != INVALID_CONFIG_ID:
            raise


async def send_welcome_msg(
    session: Session,
    workspace_id: int,
    welcome_code: str,
    text: str | None,
    attachments: Sequence[dict[str, Any]],
) -> None:
    parts = [Attachment.model_validate(a) for a in attachments]
    async with client_for(session, workspace_id) as client:
        await client.externalcontact_send_welcome_msg(welcome_code, text=text, attachments=parts)


async def remark(
    session: Session, workspace_id: int, userid: str, external_userid: str, text: str
) -> None:
    async with client_for(session, workspace_id) as client:
        await client.externalcontact_remark(userid, external_userid, remark=text)


async def mark_tags(
    session: Session, workspace_id: int, userid: str, external_userid: str, tag_ids: list[str]
) -> None:
    async with client_for(session, workspace_id) as client:
        await client.externalcontact_mark_tag(userid, external_userid, add_tag=tag_ids)
