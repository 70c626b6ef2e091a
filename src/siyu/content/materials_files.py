"""Uploaded material files: size limits, type checks by extension and content, images.

Limits follow what WeCom accepts for the attachment a material becomes (media/upload:
images ≤ 10 MB JPG/PNG, videos ≤ 10 MB MP4, files ≤ 20 MB; media/uploadimg covers ≤ 2 MB).
"""

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from siyu.exceptions import PayloadTooLarge, ValidationFailed
from siyu.kit.uploads import safe_filename

MB = 1 << 20
# Larger than every kind's limit: an upload is read up to this and refused beyond it.
MAX_UPLOAD_BYTES = 20 * MB
MAX_IMAGE_PIXELS = 40_000_000
THUMBNAIL_SIDE = 320


@dataclass(frozen=True)
class FileRule:
    """What one slot (a kind's file, or a cover) accepts."""

    what: str
    max_bytes: int
    # extension -> (content type, the magic the content must start with)
    formats: Mapping[str, tuple[str, tuple[bytes, ...]]]


_PNG = ("image/png", (b"\x89PNG\r\n\x1a\n",))
_JPEG = ("image/jpeg", (b"\xff\xd8\xff",))
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
_ZIP = (b"PK\x03\x04",)
IMAGE_FORMATS = {"jpg": _JPEG, "jpeg": _JPEG, "png": _PNG}
IMAGE_RULE = FileRule("a JPG or PNG image", 10 * MB, IMAGE_FORMATS)
COVER_RULE = FileRule("a JPG or PNG image", 2 * MB, IMAGE_FORMATS)
VIDEO_RULE = FileRule("an MP4 video", 10 * MB, {"mp4": ("video/mp4", ())})
FILE_RULE = FileRule(
    "a PDF, Word, PowerPoint or Excel file",
    20 * MB,
    {
        "pdf": ("application/pdf", (b"%PDF-",)),
        "doc": ("application/msword", _OLE),
        "docx": (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            _ZIP,
        ),
        "ppt": ("application/vnd.ms-powerpoint", _OLE),
        "pptx": (
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            _ZIP,
        ),
        "xls": ("application/vnd.ms-excel", _OLE),
        "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    },
)
# The file slot of each kind that has one.
FILE_RULES = {
    "image": IMAGE_RULE,
    "poster": IMAGE_RULE,
    "video": VIDEO_RULE,
    "file": FILE_RULE,
}


@dataclass(frozen=True)
class Upload:
    """An uploaded file read into memory (at most MAX_UPLOAD_BYTES)."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes
    width: int | None = None
    height: int | None = None


def read_upload(field: str, filename: str | None, stream: BinaryIO) -> Upload:
    """Read an upload, refusing it once it grows past the largest limit of any kind."""
    data = stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"{field}: the file is larger than {MAX_UPLOAD_BYTES // MB} MB", {"field": field}
        )
    return Upload(filename or field, data)


def _is_mp4(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp"


def check_file(field: str, upload: Upload, rule: FileRule) -> CheckedFile:
    """The upload if it fits the rule (size, extension, content); errors name the field."""
    size = len(upload.data)
    if size > rule.max_bytes:
        raise PayloadTooLarge(
            f"{field}: the file is larger than {rule.max_bytes // MB} MB",
            {"field": field, "max_bytes": rule.max_bytes},
        )
    if size < 5:  # WeCom refuses media under 5 bytes
        raise ValidationFailed(field, "the file is empty")
    name = safe_filename(upload.filename)
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    if extension not in rule.formats:
        allowed = ", ".join(f".{e}" for e in rule.formats)
        got = f".{extension}" if extension else "no extension"
        raise ValidationFailed(field, f"must be {rule.what} ({allowed}); got {got}")
    content_type, magics = rule.formats[extension]
    matches = _is_mp4(upload.data) if extension == "mp4" else upload.data.startswith(magics)
    if not matches:
        raise ValidationFailed(field, f"the content is not {rule.what} (.{extension})")
    if content_type.startswith("image/"):
        width, height = image_size(field, upload.data)
        return CheckedFile(name, content_type, upload.data, width, height)
    return CheckedFile(name, content_type, upload.data)


def image_size(field: str, data: bytes) -> tuple[int, int]:
    """Width and height of a JPG/PNG that decodes, within the pixel limit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValidationFailed(field, "the image has more than 40 megapixels")
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise ValidationFailed(field, "the image does not decode") from exc
    except Image.DecompressionBombError as exc:
        raise ValidationFailed(field, "the image has too many pixels") from exc
    return width, height


def thumbnail(data: bytes) -> bytes:
    """A JPEG at most THUMBNAIL_SIDE px on its longer side, for the library's cards."""
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        flat = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=80)
    return out.getvalue()
