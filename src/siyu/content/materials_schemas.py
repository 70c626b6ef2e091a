"""Request and response models of the materials library and poster templates."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

Color = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#1F2937"])]
TagName = Annotated[str, Field(min_length=1, max_length=32)]


class MaterialKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    LINK = "link"
    MINIPROGRAM = "miniprogram"
    FILE = "file"
    VIDEO = "video"
    POSTER = "poster"


class PosterElementKind(StrEnum):
    QR = "qr"
    AVATAR = "avatar"
    NAME = "name"
    STAFF_NAME = "staff_name"


class PosterElement(BaseModel):
    """One thing placed on the poster's background, in background pixels from the top left."""

    kind: PosterElementKind
    x: int = Field(ge=0, le=20_000)
    y: int = Field(ge=0, le=20_000)
    size: int = Field(
        ge=8,
        le=20_000,
        description="qr and avatar: side (diameter) in px; name and staff_name: text box width",
    )
    font_size: int = Field(default=28, ge=8, le=400, description="text elements only")
    color: Color = Field(default="#000000", description="text colour, or the QR's dark modules")
    align: Literal["left", "center"] = "left"


class PosterLayout(BaseModel):
    elements: list[PosterElement] = Field(default=[], max_length=20)


class MaterialGroupIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)


class MaterialGroupPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    sort_order: int | None = None


class MaterialGroupOut(BaseModel):
    id: int
    name: str
    sort_order: int
    material_count: int = 0


class MaterialFields(BaseModel):
    """What a material says, beside its files; which fields a kind needs is checked by kind."""

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    material_group_id: int | None = None
    tags: list[TagName] = Field(default=[], max_length=20)
    content: str | None = Field(default=None, max_length=4000, description="text snippets")
    url: str | None = Field(default=None, max_length=2000, description="links")
    appid: str | None = Field(default=None, max_length=64, description="mini-program cards")
    page_path: str | None = Field(default=None, max_length=500, description="mini-program cards")


class MaterialIn(MaterialFields):
    kind: MaterialKind


class MaterialPatch(BaseModel):
    """Fields to change; `tags` replaces the old tags, `material_group_id: null` ungroups."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    material_group_id: int | None = None
    tags: list[TagName] | None = Field(default=None, max_length=20)
    content: str | None = Field(default=None, max_length=4000)
    url: str | None = Field(default=None, max_length=2000)
    appid: str | None = Field(default=None, max_length=64)
    page_path: str | None = Field(default=None, max_length=500)
    poster: PosterLayout | None = None


class MaterialOut(BaseModel):
    id: int
    kind: MaterialKind
    title: str
    description: str | None
    material_group_id: int | None
    tags: list[str]
    content: str | None
    url: str | None
    appid: str | None
    page_path: str | None
    filename: str | None
    content_type: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    has_file: bool
    has_cover: bool
    has_thumbnail: bool
    poster: PosterLayout | None
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MaterialTagCount(BaseModel):
    name: str
    count: int


class PosterPreviewIn(BaseModel):
    """Sample values to render with; `poster` previews a layout before it is saved."""

    poster: PosterLayout | None = None
    name: str = Field(default="小思同学", max_length=50)
    staff_name: str | None = Field(default="王导购", max_length=50)
    qr_url: str = Field(default="https://work.weixin.qq.com/ca/siyu-preview", max_length=1000)
