"""The demo's materials library: groups, pictures drawn with Pillow, links, text snippets
and poster templates, created through the materials service as an operator uploads them."""

import io
from dataclasses import dataclass, field
from functools import cache

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from siyu.content import materials as materials_service
from siyu.content.materials_files import Upload
from siyu.content.materials_schemas import (
    MaterialGroupIn,
    MaterialIn,
    MaterialKind,
    MaterialPatch,
    PosterElement,
    PosterElementKind,
    PosterLayout,
)
from siyu.content.posters import system_cjk_font
from siyu.demo import data
from siyu.demo.people import Loaded

SHOP = "https://shop.shanchaji.example"
LONGJING_URL = f"{SHOP}/p/longjing-mingqian"
PRESALE_URL = f"{SHOP}/s/1111-presale"
POINTS_URL = f"{SHOP}/member/points"

GROUPS = ("新品上市", "大促活动", "会员权益", "品牌故事")

# Colours of the pictures: (top, bottom) of each background's gradient.
GREEN = ("#DDEBD3", "#4E7D4A")
RED = ("#F7D9A8", "#B8322A")
GOLD = ("#FFF4DC", "#C8963E")
INK = ("#EDE6DA", "#5B4A3A")


@dataclass
class Library:
    """The materials later steps send, by what they are for."""

    group_ids: dict[str, int] = field(default_factory=dict)
    longjing_poster: int = 0
    longjing_link: int = 0
    presale_poster: int = 0
    presale_link: int = 0
    points_link: int = 0


@cache
def _font_file() -> str | None:
    found = system_cjk_font()
    return str(found) if found else None


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int) -> None:
    """Centred text, when a font with Chinese glyphs is installed (pictures work without)."""
    path = _font_file()
    if path is None:
        return
    font = ImageFont.truetype(path, size)
    draw.text(xy, text, font=font, fill="#FFFFFF", anchor="mm", stroke_width=2, stroke_fill="#333")


def picture(
    width: int, height: int, colours: tuple[str, str], lines: tuple[str, ...] = ()
) -> bytes:
    """A JPEG: a vertical gradient, a soft circle like a tea bowl and a few lines of text."""
    top = Image.new("RGB", (width, height), colours[0])
    bottom = Image.new("RGB", (width, height), colours[1])
    mask = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(bottom, top, mask)
    draw = ImageDraw.Draw(image)
    radius = min(width, height) // 4
    cx, cy = width // 2, height // 3
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colours[0])
    size = max(12, min(width, height) // 12)
    for n, line in enumerate(lines):
        _text(draw, (width // 2, cy + radius + size * (2 + 2 * n)), line, size)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def poster_layout(width: int, height: int) -> PosterLayout:
    """Avatar and name at the top, the customer's QR code centred near the bottom."""
    avatar = width // 7
    qr = width // 3
    return PosterLayout(
        elements=[
            PosterElement(kind=PosterElementKind.AVATAR, x=width // 16, y=width // 16, size=avatar),
            PosterElement(
                kind=PosterElementKind.NAME,
                x=width // 16 + avatar + 16,
                y=width // 16 + avatar // 4,
                size=width // 2,
                font_size=max(16, avatar // 3),
                color="#FFFFFF",
            ),
            PosterElement(
                kind=PosterElementKind.QR,
                x=(width - qr) // 2,
                y=height - qr - height // 12,
                size=qr,
                color="#1F2937",
            ),
        ]
    )


def _create(
    session: Session,
    loaded: Loaded,
    body: MaterialIn,
    *,
    file: tuple[str, bytes] | None = None,
    cover: tuple[str, bytes] | None = None,
) -> int:
    created = materials_service.create_material(
        session,
        loaded.principal,
        body,
        file=Upload(*file) if file else None,
        cover=Upload(*cover) if cover else None,
    )
    return created.id


def _poster(
    session: Session, loaded: Loaded, title: str, group: int, colours: tuple[str, str], *lines: str
) -> int:
    width, height = 750, 1334
    material_id = _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.POSTER,
            title=title,
            description="每位客户收到带自己专属二维码、头像和昵称的海报",
            material_group_id=group,
            tags=["海报", "裂变"],
        ),
        file=(f"{title}.jpg", picture(width, height, colours, lines)),
    )
    materials_service.update_material(
        session, loaded.principal, material_id, MaterialPatch(poster=poster_layout(width, height))
    )
    return material_id


def load_materials(session: Session, loaded: Loaded) -> Library:
    """Four groups of materials a tea brand's operators would keep at hand."""
    library = Library()
    for name in GROUPS:
        body = MaterialGroupIn(name=name)
        library.group_ids[name] = materials_service.create_group(session, loaded.principal, body).id
    new, sale, member, story = (library.group_ids[name] for name in GROUPS)

    library.longjing_poster = _poster(
        session, loaded, "明前龙井·品鉴邀请海报", new, GREEN, "明前龙井", "扫码领取品鉴装"
    )
    library.presale_poster = _poster(
        session, loaded, "双十一会员专享海报", sale, RED, "双十一预售", "会员专享 满299减50"
    )
    _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.IMAGE,
            title="明前龙井·产品主图",
            description="西湖产区 明前采摘 250g 礼盒装",
            material_group_id=new,
            tags=["龙井", "绿茶", "主图"],
        ),
        file=("longjing.jpg", picture(800, 800, GREEN, ("明前龙井", "西湖产区"))),
    )
    _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.IMAGE,
            title="杭州西湖旗舰店门头",
            material_group_id=story,
            tags=["门店", "品牌"],
        ),
        file=("store.jpg", picture(960, 640, INK, (data.BRAND_NAME, "西湖旗舰店"))),
    )
    library.longjing_link = _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.LINK,
            title="明前龙井 新茶预售",
            description="今年第一批明前龙井，会员预订享 9 折并送品鉴装",
            material_group_id=new,
            tags=["龙井", "预售"],
            url=LONGJING_URL,
        ),
        cover=("longjing-cover.jpg", picture(300, 300, GREEN, ("新茶",))),
    )
    library.presale_link = _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.LINK,
            title="双十一预售会场",
            description="付定金立减，会员加赠茶点礼盒",
            material_group_id=sale,
            tags=["双十一", "预售"],
            url=PRESALE_URL,
        ),
        cover=("presale-cover.jpg", picture(300, 300, RED, ("预售",))),
    )
    library.points_link = _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.LINK,
            title="会员积分商城",
            description="积分兑换茶具、茶点和品鉴装",
            material_group_id=member,
            tags=["会员日", "积分"],
            url=POINTS_URL,
        ),
        cover=("points-cover.jpg", picture(300, 300, GOLD, ("积分",))),
    )
    _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.TEXT,
            title="龙井冲泡小贴士",
            material_group_id=new,
            tags=["龙井", "话术"],
            content="龙井用 80℃ 左右的水，玻璃杯上投法：先注水七分满，再投茶 3 克，"
            "看茶叶慢慢舒展，1 分钟后即可品饮。",
        ),
    )
    _create(
        session,
        loaded,
        MaterialIn(
            kind=MaterialKind.TEXT,
            title="会员日提醒话术",
            material_group_id=member,
            tags=["会员日", "话术"],
            content="每月 18 日是山茶集会员日，积分可抵现、兑换好礼，金卡及以上会员另享双倍积分。",
        ),
    )
    return library
