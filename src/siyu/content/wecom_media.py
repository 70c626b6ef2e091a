"""Materials as WeCom attachments: temporary media ids kept fresh, permanent cover URLs.

A media id from `media/upload` is valid three days. `media_id_for` reuses the stored one
unless it expires within the hour; the hourly `content.refresh_wecom_media` job uploads
again the media of materials used in the last 30 days that expire within 24 hours, so a
send rarely waits for an upload.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.clients import client_for
from siyu.connectors.wecom.errors import WecomApiError
from siyu.content import materials
from siyu.content.materials_repository import MaterialsRepository, workspaces_with_media_expiring
from siyu.content.storage import file_store
from siyu.exceptions import ValidationFailed
from siyu.kit.time import utcnow
from siyu.models import Material, WecomMedia

MediaType = Literal["image", "video", "file"]
MEDIA_TTL = timedelta(days=3)
REUSE_MARGIN = timedelta(hours=1)
REFRESH_WINDOW = timedelta(hours=24)
USED_WITHIN = timedelta(days=30)
UPLOADIMG = "uploadimg"
MEDIA_TYPES: dict[str, MediaType] = {"image": "image", "video": "video", "file": "file"}


@asynccontextmanager
async def _wecom(
    session: Session, workspace_id: int, client: WecomClient | None
) -> AsyncIterator[WecomClient]:
    if client is not None:
        yield client
        return
    async with client_for(session, workspace_id) as own:
        yield own


def _media_source(material: Material) -> tuple[str, MediaType, str]:
    """(stored file key, WeCom media type, file name) of what a material sends as media."""
    kind = MEDIA_TYPES.get(material.kind)
    if kind is not None and material.file_key is not None:
        return material.file_key, kind, material.filename or f"material-{material.id}"
    if material.kind == "miniprogram" and material.cover_key is not None:
        extension = "png" if material.cover_content_type == "image/png" else "jpg"
        return material.cover_key, "image", f"cover-{material.id}.{extension}"
    raise ValidationFailed("material_id", f"a {material.kind} material is not sent as WeCom media")


async def _upload(
    session: Session,
    workspace_id: int,
    material: Material,
    source: tuple[str, MediaType, str],
    client: WecomClient | None,
) -> WecomMedia:
    key, media_type, filename = source
    content = file_store().read(key)
    async with _wecom(session, workspace_id, client) as wecom:
        media_id, created_at = await wecom.upload_media(media_type, filename, content)
    repo = MaterialsRepository(session, workspace_id)
    row = repo.media(material.id, key, media_type)
    if row is None:
        row = WecomMedia(
            workspace_id=workspace_id, material_id=material.id, blob_key=key, media_type=media_type
        )
        session.add(row)
    row.media_id = media_id
    row.uploaded_at = created_at
    row.expires_at = created_at + MEDIA_TTL
    row.last_error = None
    session.flush()
    return row


async def media_id_for(
    session: Session, workspace_id: int, material_id: int, client: WecomClient | None = None
) -> str:
    """The WeCom media id to send this material (image, video, file, or a mini-program
    card's cover as `pic_media_id`): the stored one unless it expires within the hour,
    else uploaded now and recorded. Marks the material as used. Without `client`, the
    workspace's own WeCom client is used."""
    material = materials.get_material(session, workspace_id, material_id)
    source = _media_source(material)
    material.last_used_at = utcnow()
    row = MaterialsRepository(session, workspace_id).media(material.id, source[0], source[1])
    if (
        row is not None
        and row.media_id
        and row.expires_at is not None
        and row.expires_at > utcnow() + REUSE_MARGIN
    ):
        return row.media_id
    uploaded = await _upload(session, workspace_id, material, source, client)
    assert uploaded.media_id is not None
    return uploaded.media_id


async def cover_url_for(
    session: Session, workspace_id: int, material_id: int, client: WecomClient | None = None
) -> str | None:
    """A permanent WeCom URL of a link's cover (`media/uploadimg`, uploaded once per
    cover); None when the link has no cover."""
    material = materials.get_material(session, workspace_id, material_id)
    if material.cover_key is None:
        return None
    repo = MaterialsRepository(session, workspace_id)
    row = repo.media(material.id, material.cover_key, UPLOADIMG)
    if row is not None and row.url:
        return row.url
    extension = "png" if material.cover_content_type == "image/png" else "jpg"
    content = file_store().read(material.cover_key)
    async with _wecom(session, workspace_id, client) as wecom:
        result = await wecom.media_uploadimg(f"cover-{material.id}.{extension}", content)
    if row is None:
        row = WecomMedia(
            workspace_id=workspace_id,
            material_id=material.id,
            blob_key=material.cover_key,
            media_type=UPLOADIMG,
        )
        session.add(row)
    row.url, row.uploaded_at, row.expires_at = result.url, utcnow(), None
    session.flush()
    return row.url


async def attachment_for(
    session: Session, workspace_id: int, material_id: int, client: WecomClient | None = None
) -> dict[str, Any]:
    """The material as one WeCom attachment (send_welcome_msg, add_msg_template):
    `{"msgtype": "image", "image": {"media_id": …}}`, a link, a mini-program card, a
    video or a file. Text materials go in the message text; posters are rendered per
    recipient (`posters.render_poster`) and sent as images."""
    material = materials.get_material(session, workspace_id, material_id)
    kind = material.kind
    if kind == "link":
        material.last_used_at = utcnow()
        link: dict[str, Any] = {"title": material.title[:128], "url": material.url}
        if material.description:
            link["desc"] = material.description[:512]
        picurl = await cover_url_for(session, workspace_id, material_id, client)
        if picurl:
            link["picurl"] = picurl
        return {"msgtype": "link", "link": link}
    media_id = await media_id_for(session, workspace_id, material_id, client)
    if kind == "miniprogram":
        card = {
            "title": material.title[:64],
            "pic_media_id": media_id,
            "appid": material.appid,
            "page": material.page_path,
        }
        return {"msgtype": "miniprogram", "miniprogram": card}
    return {"msgtype": kind, kind: {"media_id": media_id}}


async def refresh_media(
    session: Session, workspace_id: int, client: WecomClient | None = None
) -> dict[str, int]:
    """Upload again the media expiring within 24 hours of materials used in 30 days.

    A refusal is recorded on its row and the others go on."""
    now = utcnow()
    repo = MaterialsRepository(session, workspace_id)
    due = repo.media_expiring(now + REFRESH_WINDOW, now - USED_WITHIN)
    refreshed = failed = 0
    if not due:
        return {"refreshed": 0, "failed": 0}
    async with _wecom(session, workspace_id, client) as wecom:
        for row in due:
            material = repo.material(row.material_id)
            if material is None:
                continue
            try:
                source = _media_source(material)
                await _upload(session, workspace_id, material, source, wecom)
            except WecomApiError as exc:
                row.last_error = f"{exc.errcode}: {exc.errmsg}"[:500]
                failed += 1
            else:
                refreshed += 1
    return {"refreshed": refreshed, "failed": failed}


def workspaces_to_refresh(session: Session, at: datetime | None = None) -> list[int]:
    now = at or utcnow()
    return workspaces_with_media_expiring(session, now + REFRESH_WINDOW, now - USED_WITHIN)
