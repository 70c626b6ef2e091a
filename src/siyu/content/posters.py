"""Poster templates: a background with a per-recipient QR code, name, avatar and staff name.

Rendered with Pillow; the QR code with segno. Text needs a font with Chinese glyphs:
SIYU_POSTER_FONT, else the one fontconfig finds (WenQuanYi Micro Hei preferred).
"""

import io
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from siyu.config import get_settings
from siyu.content.materials_repository import MaterialsRepository
from siyu.content.materials_schemas import (
    PosterElement,
    PosterElementKind,
    PosterLayout,
    PosterPreviewIn,
)
from siyu.content.storage import file_store
from siyu.exceptions import NotFound, SiyuError, ValidationFailed

QR_BORDER = 2  # modules of quiet zone inside the element's square
PREFERRED_FONT = "WenQuanYi Micro Hei"
TEXT_KINDS = frozenset({PosterElementKind.NAME, PosterElementKind.STAFF_NAME})
ELLIPSIS = "…"


class PosterFontMissing(SiyuError):
    """No font with Chinese glyphs to write names on posters with."""

    status_code = 500
    code = "poster_font_missing"


# -- the font -----------------------------------------------------------------------


def _run(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)  # noqa: S603
    except OSError:
        return ""
    return done.stdout


def system_cjk_font() -> Path | None:
    """A font file fontconfig says covers Chinese, WenQuanYi Micro Hei first."""
    fc_list, fc_match = shutil.which("fc-list"), shutil.which("fc-match")
    if fc_list is None:
        return None
    files = sorted(
        {line.split(":")[0].strip() for line in _run(fc_list, ":lang=zh", "file").splitlines()}
        - {""}
    )
    if not files:
        return None
    if fc_match is not None:
        chosen = _run(fc_match, "-f", "%{file}", f"{PREFERRED_FONT}:lang=zh").strip()
        if chosen in files:
            return Path(chosen)
    return Path(files[0])


def find_font(configured: Path | None) -> Path:
    """The configured font (which must exist), else the system's CJK font."""
    if configured is not None:
        if not configured.is_file():
            raise PosterFontMissing(f"SIYU_POSTER_FONT points at {configured}, which is no file")
        return configured
    found = system_cjk_font()
    if found is None:
        raise PosterFontMissing(
            "no font with Chinese glyphs is installed for poster text: install one "
            "(e.g. `apt-get install fonts-wqy-microhei`) or set SIYU_POSTER_FONT to a "
            ".ttf/.ttc/.otf file"
        )
    return found


@lru_cache
def _font_path() -> Path:
    return find_font(get_settings().poster_font)


@lru_cache(maxsize=64)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


# -- layouts ------------------------------------------------------------------------


def default_layout(width: int, height: int) -> PosterLayout:
    """A starting layout: avatar and name top left, the QR code bottom right."""
    unit = max(8, min(width, height) // 100)
    qr = max(8, min(width, height) // 4)
    avatar = max(8, min(width, height) // 8)
    font = max(8, min(400, avatar // 2))
    name_x = min(width - 8, 4 * unit + avatar)
    return fit_layout(
        PosterLayout(
            elements=[
                PosterElement(kind=PosterElementKind.AVATAR, x=4 * unit, y=4 * unit, size=avatar),
                PosterElement(
                    kind=PosterElementKind.NAME,
                    x=name_x,
                    y=4 * unit + (avatar - font) // 2,
                    size=max(8, width - name_x - 4 * unit),
                    font_size=font,
                ),
                PosterElement(
                    kind=PosterElementKind.QR,
                    x=width - qr - 4 * unit,
                    y=height - qr - 4 * unit,
                    size=qr,
                ),
            ]
        ),
        width,
        height,
    )


def _extent(element: PosterElement) -> tuple[int, int]:
    """The element's width and height on the background."""
    if element.kind in TEXT_KINDS:
        return element.size, element.font_size
    return element.size, element.size


def check_layout(layout: PosterLayout, width: int, height: int) -> None:
    """Every element inside the background; errors name the element's field."""
    for index, element in enumerate(layout.elements):
        where = f"poster.elements[{index}]"
        w, h = _extent(element)
        if element.x + w > width:
            raise ValidationFailed(
                f"{where}.x", f"x + size ({element.x + w}) is beyond the background width {width}"
            )
        if element.y + h > height:
            what = "font_size" if element.kind in TEXT_KINDS else "size"
            raise ValidationFailed(
                f"{where}.y",
                f"y + {what} ({element.y + h}) is beyond the background height {height}",
            )


def fit_layout(layout: PosterLayout, width: int, height: int) -> PosterLayout:
    """The layout with every element moved (and shrunk) to fit a background of this size."""
    fitted: list[PosterElement] = []
    for element in layout.elements:
        changes: dict[str, int] = {}
        if element.kind in TEXT_KINDS:
            changes["size"] = max(8, min(element.size, width))
            changes["font_size"] = max(8, min(element.font_size, height))
            w, h = changes["size"], changes["font_size"]
        else:
            side = max(8, min(element.size, width, height))
            changes["size"] = side
            w = h = side
        changes["x"] = max(0, min(element.x, width - w))
        changes["y"] = max(0, min(element.y, height - h))
        fitted.append(element.model_copy(update=changes))
    return PosterLayout(elements=fitted)


# -- rendering ----------------------------------------------------------------------


@dataclass(frozen=True)
class PosterValues:
    qr_url: str
    name: str
    staff_name: str | None = None
    avatar: bytes | None = None


def qr_image(url: str, side: int, color: str) -> Image.Image:
    """The QR code of `url` as a `side` px square: whole pixels per module, centred."""
    qr = segno.make(url, error="m")
    modules = len(qr.matrix) + 2 * QR_BORDER
    scale = side // modules
    if scale < 1:
        raise ValidationFailed(
            "poster", f"the QR code needs at least {modules} px for this link; it has {side}"
        )
    raw = bytes(0 if dark else 255 for row in qr.matrix for dark in row)
    matrix = Image.frombytes("L", (len(qr.matrix), len(qr.matrix)), raw)
    matrix = ImageOps.expand(matrix, border=QR_BORDER, fill=255)
    symbol = matrix.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    square = Image.new("L", (side, side), 255)
    offset = (side - symbol.width) // 2
    square.paste(symbol, (offset, offset))
    return ImageOps.colorize(square, black=color, white="#FFFFFF").convert("RGBA")


def _circle_mask(side: int) -> Image.Image:
    big = Image.new("L", (side * 4, side * 4), 0)
    ImageDraw.Draw(big).ellipse((0, 0, side * 4 - 1, side * 4 - 1), fill=255)
    return big.resize((side, side), Image.Resampling.LANCZOS)


def _placeholder_avatar(side: int, name: str, font_path: Path) -> Image.Image:
    image = Image.new("RGBA", (side, side), "#9CA3AF")
    initial = (name.strip() or "?")[0]
    font = _font(font_path, max(8, side // 2))
    ImageDraw.Draw(image).text(
        (side / 2, side / 2), initial, font=font, fill="#FFFFFF", anchor="mm"
    )
    return image


def avatar_image(avatar: bytes | None, side: int, name: str, font_path: Path) -> Image.Image:
    """The avatar cut to a circle (a grey disc with the name's first character without one)."""
    picture: Image.Image | None = None
    if avatar:
        try:
            with Image.open(io.BytesIO(avatar)) as opened:
                picture = ImageOps.fit(opened.convert("RGBA"), (side, side))
        except (UnidentifiedImageError, OSError):
            picture = None
    if picture is None:
        picture = _placeholder_avatar(side, name, font_path)
    circle = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    circle.paste(picture, (0, 0), _circle_mask(side))
    return circle


def _fit_text(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int
) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + ELLIPSIS, font=font) > width:
        text = text[:-1]
    return text + ELLIPSIS if text else ""


def render_layout(background: bytes, layout: PosterLayout, values: PosterValues) -> bytes:
    """Draw the layout's elements with these values on the background; PNG bytes."""
    font_path = _font_path()
    with Image.open(io.BytesIO(background)) as opened:
        canvas = opened.convert("RGBA")
    draw = ImageDraw.Draw(canvas)
    for element in layout.elements:
        if element.kind is PosterElementKind.QR:
            canvas.alpha_composite(
                qr_image(values.qr_url, element.size, element.color), (element.x, element.y)
            )
        elif element.kind is PosterElementKind.AVATAR:
            picture = avatar_image(values.avatar, element.size, values.name, font_path)
            canvas.alpha_composite(picture, (element.x, element.y))
        else:
            text = values.name if element.kind is PosterElementKind.NAME else values.staff_name
            if not text:
                continue
            font = _font(font_path, element.font_size)
            shown = _fit_text(draw, text, font, element.size)
            x = float(element.x)
            if element.align == "center":
                x += (element.size - draw.textlength(shown, font=font)) / 2
            draw.text((x, element.y), shown, font=font, fill=element.color, anchor="la")
    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _poster(session: Session, workspace_id: int, material_id: int) -> tuple[bytes, PosterLayout]:
    material = MaterialsRepository(session, workspace_id).material(material_id)
    if material is None or material.kind != "poster" or material.file_key is None:
        raise NotFound("poster template")
    layout = PosterLayout.model_validate(material.poster or {})
    return file_store().read(material.file_key), layout


def render_poster(
    session: Session,
    workspace_id: int,
    material_id: int,
    *,
    qr_url: str,
    name: str,
    staff_name: str | None = None,
    avatar: bytes | None = None,
) -> bytes:
    """The poster template rendered for one recipient, as PNG bytes.

    `qr_url` goes in the QR code (a tracked link or a live code's URL), `name` is the
    recipient's name or nickname, `avatar` their picture (any format Pillow reads; a disc
    with the name's first character when None or unreadable).
    """
    background, layout = _poster(session, workspace_id, material_id)
    return render_layout(background, layout, PosterValues(qr_url, name, staff_name, avatar))


def preview(session: Session, workspace_id: int, material_id: int, body: PosterPreviewIn) -> bytes:
    """The template (or an unsaved layout of it) rendered with sample values."""
    background, layout = _poster(session, workspace_id, material_id)
    if body.poster is not None:
        with Image.open(io.BytesIO(background)) as opened:
            width, height = opened.size
        check_layout(body.poster, width, height)
        layout = body.poster
    return render_layout(
        background, layout, PosterValues(body.qr_url, body.name, body.staff_name, None)
    )
