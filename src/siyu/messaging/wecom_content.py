"""What a WeCom mass message carries, within WeCom's limits: composed per sender.

A mass task's content is the same for everyone it reaches, so it is composed per staff
member: the text with the staff member's name, the materials as attachments and, for a
poster, one poster per staff member; every http(s) link in them (text, link cards, the
poster's QR code) becomes that staff member's tracked link.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from siyu.acquisition.rendering import CUSTOMER_NAME, STAFF_NAME
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.schemas.messages import Attachment, ImagePayload
from siyu.content import links, materials, posters, staff_links, wecom_media
from siyu.exceptions import ValidationFailed
from siyu.messaging.rendering import CUSTOM, Recipient, fill
from siyu.messaging.schemas import Content
from siyu.models import Broadcast
from siyu.staff import service as staff_service

# add_msg_template limits (protocol.md §5)
MAX_ATTACHMENTS = 9
TEXT_MAX_BYTES = 4000
ATTACHMENT_KINDS = ("image", "link", "miniprogram", "file", "video")
# the channel of a poster's QR link, so results can tell scans from clicks in the message
POSTER_CHANNEL = "poster"


@dataclass(frozen=True)
class Message:
    text: str | None
    attachments: list[Attachment]


def content_of(broadcast: Broadcast, variant: str | None) -> dict[str, Any]:
    for option in broadcast.variants or []:
        if option["key"] == variant:
            return dict(option["content"])
    return dict(broadcast.content)


async def compose(
    session: Session,
    broadcast: Broadcast,
    variant: str | None,
    staff_id: int | None,
    client: WecomClient,
) -> Message:
    """The task's text and attachments as this staff member sends them."""
    workspace_id = broadcast.workspace_id
    content = content_of(broadcast, variant)
    staff_name = None
    if staff_id is not None:
        staff_name = staff_service.staff_names(session, workspace_id, [staff_id]).get(staff_id)
    text = None
    if content.get("text"):
        text = fill(content["text"], Recipient(0, 0, "", staff_id, variant, None, staff_name))
    attachments = [
        Attachment.model_validate(
            await wecom_media.attachment_for(session, workspace_id, material_id, client)
        )
        for material_id in content.get("material_ids") or []
    ]
    urls = [a.link.url for a in attachments if a.link is not None]
    tracked = staff_links.track_for_staff(
        session,
        workspace_id,
        broadcast_id=broadcast.id,
        staff_id=staff_id,
        channel=broadcast.channel,
        urls=[*links.find_links(text or ""), *urls],
    )
    if text is not None:
        text = links.rewrite_links(text, tracked)
        if len(text.encode()) > TEXT_MAX_BYTES:
            raise ValidationFailed(
                "content.text", "WeCom takes at most 4,000 bytes of text, tracked links included"
            )
    for attachment in attachments:
        if attachment.link is not None:
            attachment.link.url = tracked.get(attachment.link.url, attachment.link.url)
    poster_id = content.get("poster_id")
    if poster_id:
        qr_url = str(content.get("poster_url") or "")
        poster_links = staff_links.track_for_staff(
            session,
            workspace_id,
            broadcast_id=broadcast.id,
            staff_id=staff_id,
            channel=POSTER_CHANNEL,
            urls=[qr_url],
        )
        image = posters.render_poster(
            session,
            workspace_id,
            poster_id,
            qr_url=poster_links.get(qr_url, qr_url),
            name=staff_name or "",
            staff_name=staff_name,
        )
        media_id, _ = await client.upload_media(
            "image", f"poster-{broadcast.id}-{staff_id or 0}.png", image
        )
        attachments.append(Attachment(msgtype="image", image=ImagePayload(media_id=media_id)))
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValidationFailed("content.material_ids", "WeCom takes at most 9 attachments")
    return Message(text, attachments)


def tracked_bytes(text: str) -> int:
    """Bytes of `text` once its links are short links."""
    short = "x" * staff_links.short_url_length()
    found = {url: short for url in links.find_links(text) if staff_links.trackable(url)}
    return len(links.rewrite_links(text, found).encode())


def check_content(session: Session, workspace_id: int, content: Content, field: str) -> None:
    """A WeCom message's text and attachments within WeCom's limits, as field errors."""
    if not (content.text or content.material_ids or content.poster_id):
        raise ValidationFailed(f"{field}.text", "a WeCom message needs text or attachments")
    if content.text and tracked_bytes(content.text) > TEXT_MAX_BYTES:
        raise ValidationFailed(
            f"{field}.text", "WeCom takes at most 4,000 bytes of text, tracked links included"
        )
    if content.text and ("{" + CUSTOMER_NAME + "}" in content.text or CUSTOM.search(content.text)):
        raise ValidationFailed(
            f"{field}.text",
            "a WeCom mass message is one text for all of a staff member's customers: "
            f"only {{{STAFF_NAME}}} can be filled in",
        )
    attachments = len(content.material_ids) + (1 if content.poster_id else 0)
    if attachments > MAX_ATTACHMENTS:
        raise ValidationFailed(
            f"{field}.material_ids", "WeCom takes at most 9 attachments, the poster included"
        )
    for index, material_id in enumerate(content.material_ids):
        kind = materials.get_material(session, workspace_id, material_id).kind
        if kind not in ATTACHMENT_KINDS:
            raise ValidationFailed(
                f"{field}.material_ids[{index}]",
                f"a {kind} material cannot be a WeCom attachment "
                "(images, links, mini-programs, files and videos can)",
            )
    if content.poster_id is not None:
        if materials.get_material(session, workspace_id, content.poster_id).kind != "poster":
            raise ValidationFailed(f"{field}.poster_id", "choose a poster template")
        if not content.poster_url:
            raise ValidationFailed(f"{field}.poster_url", "the poster's QR code needs a URL")
