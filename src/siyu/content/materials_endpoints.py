"""The materials library API: groups, materials, files, thumbnails, poster previews."""

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from siyu.content import materials, posters
from siyu.content.materials_files import Upload, read_upload
from siyu.content.materials_schemas import (
    MaterialGroupIn,
    MaterialGroupOut,
    MaterialGroupPatch,
    MaterialIn,
    MaterialKind,
    MaterialOut,
    MaterialPatch,
    MaterialTagCount,
    PosterPreviewIn,
)
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.workspace.dependencies import Operator, Viewer

router = APIRouter(tags=["materials"])

PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "PNG image"}
}


def _upload(field: str, file: UploadFile | None) -> Upload | None:
    return None if file is None else read_upload(field, file.filename, file.file)


def _disposition(kind: Literal["attachment", "inline"], filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# -- groups -------------------------------------------------------------------------


@router.get("/material-groups", response_model=list[MaterialGroupOut])
def list_groups(session: DbSession, principal: Viewer) -> list[MaterialGroupOut]:
    """The library's groups in their order, with how many materials each holds."""
    return materials.list_groups(session, principal.workspace_id)


@router.post("/material-groups", response_model=MaterialGroupOut, status_code=201)
def create_group(
    body: MaterialGroupIn, session: DbSession, principal: Operator
) -> MaterialGroupOut:
    return materials.create_group(session, principal, body)


@router.patch("/material-groups/{material_group_id}", response_model=MaterialGroupOut)
def update_group(
    material_group_id: int, body: MaterialGroupPatch, session: DbSession, principal: Operator
) -> MaterialGroupOut:
    return materials.update_group(session, principal, material_group_id, body)


@router.delete("/material-groups/{material_group_id}", status_code=204)
def delete_group(material_group_id: int, session: DbSession, principal: Operator) -> None:
    """Delete the group (audited); its materials stay, ungrouped."""
    materials.delete_group(session, principal, material_group_id)


# -- materials ----------------------------------------------------------------------


@router.get("/materials", response_model=PageOut[MaterialOut])
def list_materials(
    session: DbSession,
    principal: Viewer,
    kind: MaterialKind | None = None,
    material_group_id: int | None = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="in title or description")] = None,
    sort: Annotated[str | None, Query(description="created_at, updated_at or title; -desc")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[MaterialOut]:
    """The library, newest first, filtered by kind, group, tag and a search text."""
    items, next_cursor = materials.list_materials(
        session,
        principal.workspace_id,
        kind=kind,
        group_id=material_group_id,
        tag=tag,
        q=q,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return PageOut(items=items, next_cursor=next_cursor)


@router.get("/materials/tags", response_model=list[MaterialTagCount])
def list_tags(session: DbSession, principal: Viewer) -> list[MaterialTagCount]:
    """Every free tag in use, most used first."""
    return materials.tag_counts(session, principal.workspace_id)


@router.post("/materials", response_model=MaterialOut, status_code=201)
def create_material(
    body: Annotated[MaterialIn, Form(media_type="multipart/form-data")],
    session: DbSession,
    principal: Operator,
    file: Annotated[
        UploadFile | None,
        File(description="image/poster: JPG or PNG ≤ 10 MB; video: MP4 ≤ 10 MB; file: ≤ 20 MB"),
    ] = None,
    cover: Annotated[
        UploadFile | None, File(description="link or mini-program cover: JPG or PNG ≤ 2 MB")
    ] = None,
) -> MaterialOut:
    """Add a material: its fields as form fields, its file and cover as uploads."""
    return materials.create_material(
        session, principal, body, file=_upload("file", file), cover=_upload("cover", cover)
    )


@router.get("/materials/{material_id}", response_model=MaterialOut)
def get_material(material_id: int, session: DbSession, principal: Viewer) -> MaterialOut:
    return materials.material_out(
        materials.get_material(session, principal.workspace_id, material_id)
    )


@router.patch("/materials/{material_id}", response_model=MaterialOut)
def update_material(
    material_id: int, body: MaterialPatch, session: DbSession, principal: Operator
) -> MaterialOut:
    """Change fields; a poster template's layout is checked against its background."""
    return materials.update_material(session, principal, material_id, body)


@router.delete("/materials/{material_id}", status_code=204)
def delete_material(material_id: int, session: DbSession, principal: Operator) -> None:
    """Delete the material (audited)."""
    materials.delete_material(session, principal, material_id)


@router.put("/materials/{material_id}/file", response_model=MaterialOut)
def replace_file(
    material_id: int, file: UploadFile, session: DbSession, principal: Operator
) -> MaterialOut:
    """Replace the image, document, video or poster background."""
    upload = read_upload("file", file.filename, file.file)
    return materials.replace_file(session, principal, material_id, upload, "file")


@router.put("/materials/{material_id}/cover", response_model=MaterialOut)
def replace_cover(
    material_id: int, file: UploadFile, session: DbSession, principal: Operator
) -> MaterialOut:
    """Replace the cover of a link or mini-program card."""
    upload = read_upload("file", file.filename, file.file)
    return materials.replace_file(session, principal, material_id, upload, "cover")


@router.get(
    "/materials/{material_id}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
def download(
    material_id: int,
    session: DbSession,
    principal: Viewer,
    part: Literal["file", "cover"] = "file",
    inline: bool = False,
) -> StreamingResponse:
    """The stored file (or cover) as uploaded."""
    found = materials.download(session, principal.workspace_id, material_id, part)
    return StreamingResponse(
        found.blocks,
        media_type=found.content_type,
        headers={
            "Content-Disposition": _disposition(
                "inline" if inline else "attachment", found.filename
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/materials/{material_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG ≤ 320 px"}},
)
def thumbnail(material_id: int, session: DbSession, principal: Viewer) -> Response:
    """A small JPEG of the image, poster background or cover, for the library's cards."""
    image = materials.thumbnail_of(session, principal.workspace_id, material_id)
    return Response(
        image, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.post("/materials/{material_id}/poster-preview", response_class=Response, responses=PNG)
def poster_preview(
    material_id: int, session: DbSession, principal: Viewer, body: PosterPreviewIn | None = None
) -> Response:
    """The poster template rendered with sample values (or an unsaved layout of it)."""
    image = posters.preview(session, principal.workspace_id, material_id, body or PosterPreviewIn())
    return Response(image, media_type="image/png")
