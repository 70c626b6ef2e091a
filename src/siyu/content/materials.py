"""The materials library (素材库): groups, free tags, search, stored files, downloads."""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from siyu.content import posters
from siyu.content.materials_files import (
    COVER_RULE,
    FILE_RULES,
    CheckedFile,
    Upload,
    check_file,
    thumbnail,
)
from siyu.content.materials_repository import MATERIAL_SORTS, MaterialsRepository
from siyu.content.materials_schemas import (
    MaterialFields,
    MaterialGroupIn,
    MaterialGroupOut,
    MaterialGroupPatch,
    MaterialIn,
    MaterialKind,
    MaterialOut,
    MaterialPatch,
    MaterialTagCount,
    PosterLayout,
)
from siyu.content.storage import FileStore, content_key, file_store
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import SortSpec
from siyu.models import Material, MaterialGroup
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

Part = Literal["file", "cover"]
_URL = re.compile(r"^https?://\S+$")
_APPID = re.compile(r"^wx[0-9A-Za-z]{16}$")
WITH_FILE = frozenset({"image", "file", "video", "poster"})
WITH_COVER = frozenset({"link", "miniprogram"})
WITH_THUMBNAIL = frozenset({"image", "poster", "link", "miniprogram"})


# -- groups -------------------------------------------------------------------------


def list_groups(session: Session, workspace_id: int) -> list[MaterialGroupOut]:
    repo = MaterialsRepository(session, workspace_id)
    counts = repo.group_counts()
    return [
        MaterialGroupOut(
            id=g.id, name=g.name, sort_order=g.sort_order, material_count=counts.get(g.id, 0)
        )
        for g in repo.groups()
    ]


def get_group(session: Session, workspace_id: int, group_id: int) -> MaterialGroup:
    group = MaterialsRepository(session, workspace_id).group(group_id)
    if group is None:
        raise NotFound("material group")
    return group


def _check_group_name(repo: MaterialsRepository, name: str, group_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed("name", "must not be blank")
    taken = repo.group_named(name)
    if taken is not None and taken.id != group_id:
        raise Conflict(f"a material group named {name!r} exists", {"field": "name"})
    return name


def create_group(session: Session, principal: Principal, body: MaterialGroupIn) -> MaterialGroupOut:
    repo = MaterialsRepository(session, principal.workspace_id)
    name = _check_group_name(repo, body.name)
    order = max((g.sort_order for g in repo.groups()), default=0) + 1
    group = MaterialGroup(workspace_id=principal.workspace_id, name=name, sort_order=order)
    session.add(group)
    session.flush()
    return MaterialGroupOut(id=group.id, name=group.name, sort_order=group.sort_order)


def update_group(
    session: Session, principal: Principal, group_id: int, body: MaterialGroupPatch
) -> MaterialGroupOut:
    repo = MaterialsRepository(session, principal.workspace_id)
    group = get_group(session, principal.workspace_id, group_id)
    if body.name is not None:
        group.name = _check_group_name(repo, body.name, group.id)
    if body.sort_order is not None:
        group.sort_order = body.sort_order
    session.flush()
    count = repo.group_counts().get(group.id, 0)
    return MaterialGroupOut(
        id=group.id, name=group.name, sort_order=group.sort_order, material_count=count
    )


def delete_group(session: Session, principal: Principal, group_id: int) -> None:
    """Delete the group; its materials stay, ungrouped."""
    group = get_group(session, principal.workspace_id, group_id)
    workspace_service.audit(
        session,
        principal,
        "material_group.delete",
        target_type="material_group",
        target_id=group.id,
        details={"name": group.name},
    )
    for material in _materials_of_group(session, principal.workspace_id, group.id):
        material.group_id = None
    session.delete(group)
    session.flush()


def _materials_of_group(session: Session, workspace_id: int, group_id: int) -> list[Material]:
    repo = MaterialsRepository(session, workspace_id)
    found: list[Material] = []
    cursor: str | None = None
    while True:
        page, cursor = repo.materials_page(
            kind=None,
            group_id=group_id,
            tag=None,
            q=None,
            sort=SortSpec("created_at", descending=False),
            cursor=cursor,
            limit=200,
        )
        found += page
        if cursor is None:
            return found


# -- reading ------------------------------------------------------------------------


def get_material(session: Session, workspace_id: int, material_id: int) -> Material:
    material = MaterialsRepository(session, workspace_id).material(material_id)
    if material is None:
        raise NotFound("material")
    return material


def material_out(material: Material) -> MaterialOut:
    return MaterialOut(
        id=material.id,
        kind=MaterialKind(material.kind),
        title=material.title,
        description=material.description,
        material_group_id=material.group_id,
        tags=list(material.tags),
        content=material.content,
        url=material.url,
        appid=material.appid,
        page_path=material.page_path,
        filename=material.filename,
        content_type=material.content_type,
        size_bytes=material.size_bytes,
        width=material.width,
        height=material.height,
        has_file=material.file_key is not None,
        has_cover=material.cover_key is not None,
        has_thumbnail=_thumbnail_source(material) is not None,
        poster=PosterLayout.model_validate(material.poster) if material.poster else None,
        last_used_at=material.last_used_at,
        created_at=material.created_at,
        updated_at=material.updated_at,
    )


def list_materials(
    session: Session,
    workspace_id: int,
    *,
    kind: MaterialKind | None = None,
    group_id: int | None = None,
    tag: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[MaterialOut], str | None]:
    """One keyset page of the library, newest first unless `sort` says otherwise."""
    spec = SortSpec.parse(sort, MATERIAL_SORTS, "-created_at")
    rows, next_cursor = MaterialsRepository(session, workspace_id).materials_page(
        kind=kind.value if kind else None,
        group_id=group_id,
        tag=tag.strip() if tag else None,
        q=q.strip() if q else None,
        sort=spec,
        cursor=cursor,
        limit=limit,
    )
    return [material_out(m) for m in rows], next_cursor


def tag_counts(session: Session, workspace_id: int) -> list[MaterialTagCount]:
    rows = MaterialsRepository(session, workspace_id).tag_counts()
    return [MaterialTagCount(name=name, count=count) for name, count in rows]


@dataclass(frozen=True)
class Download:
    blocks: Iterator[bytes]
    filename: str
    content_type: str


def download(
    session: Session, workspace_id: int, material_id: int, part: Part = "file"
) -> Download:
    """The material's stored file (or its cover) as blocks to send."""
    material = get_material(session, workspace_id, material_id)
    if part == "cover":
        if material.cover_key is None:
            raise NotFound("cover")
        extension = "png" if material.cover_content_type == "image/png" else "jpg"
        return Download(
            file_store().stream(material.cover_key),
            f"cover-{material.id}.{extension}",
            material.cover_content_type or "image/jpeg",
        )
    if material.file_key is None:
        raise NotFound("file")
    return Download(
        file_store().stream(material.file_key),
        material.filename or f"material-{material.id}",
        material.content_type or "application/octet-stream",
    )


def _thumbnail_source(material: Material) -> str | None:
    if material.kind in ("image", "poster"):
        return material.file_key
    if material.kind in WITH_COVER:
        return material.cover_key
    return None


def thumbnail_of(session: Session, workspace_id: int, material_id: int) -> bytes:
    """A small JPEG of the image, poster background or cover; made once and stored."""
    material = get_material(session, workspace_id, material_id)
    source = _thumbnail_source(material)
    if source is None:
        raise NotFound("thumbnail")
    store = file_store()
    key = f"{source}.thumb.jpg"
    if store.exists(key):
        return store.read(key)
    small = thumbnail(store.read(source))
    store.put(key, small, "image/jpeg")
    return small


# -- writing ------------------------------------------------------------------------


def _clean_tags(tags: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for raw in tags:
        tag = raw.strip()
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def _check_fields(
    session: Session, workspace_id: int, kind: str, fields: MaterialFields
) -> dict[str, Any]:
    """The columns a kind keeps, checked; fields of other kinds are dropped."""
    if fields.material_group_id is not None:
        get_group(session, workspace_id, fields.material_group_id)
    title = fields.title.strip()
    if not title:
        raise ValidationFailed("title", "must not be blank")
    columns: dict[str, Any] = {
        "title": title,
        "description": (fields.description or "").strip() or None,
        "group_id": fields.material_group_id,
        "tags": _clean_tags(fields.tags),
        "content": None,
        "url": None,
        "appid": None,
        "page_path": None,
    }
    if kind == "text":
        if not (fields.content or "").strip():
            raise ValidationFailed("content", "a text material needs its text")
        columns["content"] = fields.content
    elif kind == "link":
        url = (fields.url or "").strip()
        if not _URL.match(url):
            raise ValidationFailed("url", "must be an http:// or https:// address")
        columns["url"] = url
    elif kind == "miniprogram":
        appid = (fields.appid or "").strip()
        if not _APPID.match(appid):
            raise ValidationFailed("appid", "must be the mini-program's AppID (wx + 16 characters)")
        page = (fields.page_path or "").strip()
        if not page:
            raise ValidationFailed("page_path", "a mini-program card needs the page path")
        columns["appid"], columns["page_path"] = appid, page
    return columns


def _size(material: Material) -> tuple[int, int]:
    """The width and height of an image material's file (set when it was stored)."""
    return material.width or 1, material.height or 1


def _store_file(store: FileStore, workspace_id: int, checked: CheckedFile) -> str:
    key = content_key(workspace_id, checked.data)
    store.put(key, checked.data, checked.content_type)
    return key


def _apply_file(material: Material, store: FileStore, checked: CheckedFile) -> None:
    material.file_key = _store_file(store, material.workspace_id, checked)
    material.filename = checked.filename
    material.content_type = checked.content_type
    material.size_bytes = len(checked.data)
    material.width, material.height = checked.width, checked.height


def _apply_cover(material: Material, store: FileStore, checked: CheckedFile) -> None:
    material.cover_key = _store_file(store, material.workspace_id, checked)
    material.cover_content_type = checked.content_type


def create_material(
    session: Session,
    principal: Principal,
    body: MaterialIn,
    *,
    file: Upload | None = None,
    cover: Upload | None = None,
) -> MaterialOut:
    """Check the fields and files the kind needs, store the files, save the material."""
    workspace_id = principal.workspace_id
    kind = body.kind.value
    columns = _check_fields(session, workspace_id, kind, body)
    checked_file = checked_cover = None
    if kind in WITH_FILE:
        if file is None:
            raise ValidationFailed("file", f"a {kind} material needs its file")
        checked_file = check_file("file", file, FILE_RULES[kind])
    elif file is not None:
        raise ValidationFailed("file", f"a {kind} material takes no file")
    if kind in WITH_COVER and cover is not None:
        checked_cover = check_file("cover", cover, COVER_RULE)
    elif cover is not None:
        raise ValidationFailed("cover", f"a {kind} material takes no cover")
    if kind == "miniprogram" and checked_cover is None:
        raise ValidationFailed("cover", "a mini-program card needs its cover image")

    material = Material(workspace_id=workspace_id, kind=kind, **columns)
    store = file_store()
    if checked_file is not None:
        _apply_file(material, store, checked_file)
    if checked_cover is not None:
        _apply_cover(material, store, checked_cover)
    if kind == "poster":
        material.poster = posters.default_layout(*_size(material)).model_dump(mode="json")
    session.add(material)
    session.flush()
    MaterialsRepository(session, workspace_id).set_tags(material.id, material.tags)
    return material_out(material)


def update_material(
    session: Session, principal: Principal, material_id: int, patch: MaterialPatch
) -> MaterialOut:
    workspace_id = principal.workspace_id
    material = get_material(session, workspace_id, material_id)
    sent = patch.model_dump(exclude_unset=True)
    current = MaterialFields(
        title=material.title,
        description=material.description,
        material_group_id=material.group_id,
        tags=material.tags,
        content=material.content,
        url=material.url,
        appid=material.appid,
        page_path=material.page_path,
    )
    merged = current.model_copy(update={k: v for k, v in sent.items() if k != "poster"})
    if "title" in sent and sent["title"] is None:
        raise ValidationFailed("title", "must not be blank")
    columns = _check_fields(session, workspace_id, material.kind, merged)
    for name, value in columns.items():
        setattr(material, name, value)
    if patch.poster is not None:
        if material.kind != "poster":
            raise ValidationFailed("poster", "only poster templates have a layout")
        posters.check_layout(patch.poster, *_size(material))
        material.poster = patch.poster.model_dump(mode="json")
    session.flush()
    if "tags" in sent:
        MaterialsRepository(session, workspace_id).set_tags(material.id, material.tags)
    return material_out(material)


def replace_file(
    session: Session, principal: Principal, material_id: int, upload: Upload, part: Part = "file"
) -> MaterialOut:
    """Replace the material's file (or cover); WeCom media ids follow the new content."""
    material = get_material(session, principal.workspace_id, material_id)
    store = file_store()
    if part == "cover":
        if material.kind not in WITH_COVER:
            raise ValidationFailed("file", f"a {material.kind} material has no cover")
        _apply_cover(material, store, check_file("file", upload, COVER_RULE))
    else:
        if material.kind not in WITH_FILE:
            raise ValidationFailed("file", f"a {material.kind} material takes no file")
        _apply_file(material, store, check_file("file", upload, FILE_RULES[material.kind]))
        if material.kind == "poster" and material.poster is not None:
            layout = PosterLayout.model_validate(material.poster)
            fitted = posters.fit_layout(layout, *_size(material))
            material.poster = fitted.model_dump(mode="json")
    session.flush()
    return material_out(material)


def delete_material(session: Session, principal: Principal, material_id: int) -> None:
    """Delete the material (audited); its stored file stays while other materials share it."""
    material = get_material(session, principal.workspace_id, material_id)
    workspace_service.audit(
        session,
        principal,
        "material.delete",
        target_type="material",
        target_id=material.id,
        details={"kind": material.kind, "title": material.title, "file_key": material.file_key},
    )
    session.delete(material)
    session.flush()
