"""Sample files and calls shared by the materials tests."""

import io
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image


def png(width: int = 64, height: int = 48, color: str = "#3366CC") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48, color: str = "#CC6633") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def create(
    api: TestClient,
    kind: str,
    title: str = "素材",
    *,
    file: tuple[str, bytes, str] | None = None,
    cover: tuple[str, bytes, str] | None = None,
    expect: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    files: dict[str, tuple[str, bytes, str]] = {}
    if file is not None:
        files["file"] = file
    if cover is not None:
        files["cover"] = cover
    data: dict[str, Any] = {"kind": kind, "title": title, **fields}
    response = api.post("/api/v1/materials", data=data, files=files or None)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def create_image(api: TestClient, title: str = "门店照片", **fields: Any) -> dict[str, Any]:
    return create(api, "image", title, file=("store.png", png(), "image/png"), **fields)
