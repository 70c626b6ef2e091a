"""Poster templates: layouts checked, rendered per recipient, QR codes that scan."""

import io
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image, ImageChops
from sqlalchemy.orm import Session

from siyu.content import posters
from siyu.content.materials_schemas import PosterElement, PosterElementKind, PosterLayout
from siyu.content.posters import PosterFontMissing, find_font, render_poster
from siyu.exceptions import NotFound
from tests.conftest import WorkspaceFixture
from tests.content.materials_helpers import create, png

WIDTH, HEIGHT = 750, 1000
BACKGROUND = "#F5E6C8"
QR_URL = "https://siyu.example.com/l/Ab3dE9?c=42"
LAYOUT: dict[str, Any] = {
    "elements": [
        {"kind": "avatar", "x": 40, "y": 40, "size": 120},
        {"kind": "name", "x": 180, "y": 70, "size": 500, "font_size": 48, "color": "#B91C1C"},
        {"kind": "staff_name", "x": 40, "y": 200, "size": 400, "font_size": 32},
        {"kind": "qr", "x": 450, "y": 700, "size": 260, "color": "#111827"},
    ]
}


def _poster(api: TestClient) -> dict[str, Any]:
    made = create(
        api, "poster", "双十一海报", file=("bg.png", png(WIDTH, HEIGHT, BACKGROUND), "image/png")
    )
    response = api.patch(f"/api/v1/materials/{made['id']}", json={"poster": LAYOUT})
    assert response.status_code == 200, response.text
    return made


def _decode(png_bytes: bytes) -> list[str]:
    with Image.open(io.BytesIO(png_bytes)) as image:
        return [code.text for code in zxingcpp.read_barcodes(image.convert("RGB"))]


def _region_differs(png_bytes: bytes, box: tuple[int, int, int, int]) -> bool:
    with Image.open(io.BytesIO(png_bytes)) as image:
        region = image.convert("RGB").crop(box)
    plain = Image.new("RGB", region.size, BACKGROUND)
    return ImageChops.difference(region, plain).getbbox() is not None


def test_a_new_poster_gets_a_default_layout_inside_its_background(api: TestClient) -> None:
    made = create(api, "poster", "海报", file=("bg.png", png(600, 900), "image/png"))
    kinds = [e["kind"] for e in made["poster"]["elements"]]
    assert sorted(kinds) == ["avatar", "name", "qr"]
    posters.check_layout(PosterLayout.model_validate(made["poster"]), 600, 900)


def test_render_poster_puts_a_qr_code_that_scans_to_the_url_and_the_texts(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    made = _poster(api)

    image = render_poster(
        db, workspace.id, made["id"], qr_url=QR_URL, name="小思同学", staff_name="王导购"
    )

    assert image.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(image)) as decoded:
        assert decoded.size == (WIDTH, HEIGHT)
    assert _decode(image) == [QR_URL]
    assert _region_differs(image, (180, 70, 680, 118))  # the name
    assert _region_differs(image, (40, 200, 440, 232))  # the staff name
    assert _region_differs(image, (40, 40, 160, 160))  # the avatar placeholder


def test_each_recipient_gets_their_own_qr_code_name_and_avatar(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    made = _poster(api)
    avatar = png(200, 200, "#10B981")

    first = render_poster(db, workspace.id, made["id"], qr_url=QR_URL + "1", name="甲")
    second = render_poster(
        db, workspace.id, made["id"], qr_url=QR_URL + "2", name="乙", avatar=avatar
    )

    assert _decode(first) == [QR_URL + "1"]
    assert _decode(second) == [QR_URL + "2"]
    with Image.open(io.BytesIO(second)) as image:
        rgb = image.convert("RGB")
        assert rgb.getpixel((100, 100)) == (16, 185, 129)  # the avatar's centre
        assert rgb.getpixel((42, 42)) == (245, 230, 200)  # outside the circle: background
    # No staff name given: its region stays the background.
    assert not _region_differs(first, (40, 200, 440, 232))


def test_the_preview_endpoint_renders_sample_values_and_unsaved_layouts(api: TestClient) -> None:
    made = _poster(api)

    saved = api.post(f"/api/v1/materials/{made['id']}/poster-preview")
    moved = api.post(
        f"/api/v1/materials/{made['id']}/poster-preview",
        json={
            "poster": {"elements": [{"kind": "qr", "x": 10, "y": 10, "size": 300}]},
            "qr_url": "https://example.com/preview",
        },
    )

    assert saved.status_code == 200, saved.text
    assert saved.headers["content-type"] == "image/png"
    assert len(_decode(saved.content)) == 1
    assert _decode(moved.content) == ["https://example.com/preview"]
    assert not _region_differs(moved.content, (450, 700, 710, 960))


def test_an_element_outside_the_background_is_refused_naming_it(api: TestClient) -> None:
    made = _poster(api)
    elements = [*LAYOUT["elements"], {"kind": "qr", "x": 600, "y": 10, "size": 200}]

    response = api.patch(f"/api/v1/materials/{made['id']}", json={"poster": {"elements": elements}})

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "poster.elements[4].x"
    preview = api.post(
        f"/api/v1/materials/{made['id']}/poster-preview",
        json={"poster": {"elements": [{"kind": "name", "x": 0, "y": 990, "size": 100}]}},
    )
    assert preview.json()["error"]["details"]["field"] == "poster.elements[0].y"


def test_a_layout_only_fits_poster_templates(api: TestClient) -> None:
    image = create(api, "image", "图", file=("a.png", png(), "image/png"))
    response = api.patch(f"/api/v1/materials/{image['id']}", json={"poster": LAYOUT})
    assert response.json()["error"]["details"]["field"] == "poster"
    assert api.post(f"/api/v1/materials/{image['id']}/poster-preview").status_code == 404


def test_render_poster_of_another_workspace_is_not_found(
    api: TestClient, db: Session, make_workspace: Any
) -> None:
    made = _poster(api)
    other = make_workspace()
    with pytest.raises(NotFound):
        render_poster(db, other.id, made["id"], qr_url=QR_URL, name="x")


def test_a_replaced_background_keeps_the_layout_inside_it(api: TestClient) -> None:
    made = _poster(api)
    response = api.put(
        f"/api/v1/materials/{made['id']}/file",
        files={"file": ("small.png", png(400, 500, BACKGROUND), "image/png")},
    )
    assert response.status_code == 200, response.text
    layout = PosterLayout.model_validate(response.json()["poster"])
    posters.check_layout(layout, 400, 500)


def test_a_qr_code_too_small_for_its_link_is_refused() -> None:
    with pytest.raises(Exception, match="needs at least"):
        posters.qr_image("https://example.com/" + "x" * 200, 20, "#000000")


def test_the_font_is_the_configured_one_or_a_cjk_font_fontconfig_finds(tmp_path: Path) -> None:
    found = find_font(None)
    assert found.is_file()
    assert found.suffix in {".ttf", ".ttc", ".otf"}
    own = tmp_path / "own.ttf"
    own.write_bytes(found.read_bytes())
    assert find_font(own) == own
    with pytest.raises(PosterFontMissing, match="SIYU_POSTER_FONT"):
        find_font(tmp_path / "missing.ttf")


def test_without_any_cjk_font_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PosterFontMissing, match="fonts-wqy-microhei"):
        find_font(None)


def test_text_too_long_for_its_box_is_cut_with_an_ellipsis() -> None:
    layout = PosterLayout(
        elements=[
            PosterElement(kind=PosterElementKind.NAME, x=0, y=0, size=120, font_size=30),
        ]
    )
    image = posters.render_layout(
        png(300, 40, "#FFFFFF"),
        layout,
        posters.PosterValues("https://e.x", "很长很长很长很长的名字"),
    )
    with Image.open(io.BytesIO(image)) as decoded:
        ink = ImageChops.difference(
            decoded.convert("RGB"), Image.new("RGB", (300, 40), "#FFFFFF")
        ).getbbox()
    assert ink is not None
    assert ink[2] <= 120
