"""Uploaded files (order and customer imports) stored on local disk."""

import re
import uuid
from pathlib import Path
from typing import BinaryIO

from siyu.exceptions import PayloadTooLarge

COPY_BLOCK = 1 << 20
_UNSAFE = re.compile(r"[^\w.\-]+")


def safe_filename(name: str) -> str:
    """The base name of an uploaded file, with anything but word characters, dots and
    hyphens replaced, so it can never climb out of its directory."""
    base = Path(name.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip("._")
    return cleaned[-100:] or "upload"


def store_upload(directory: Path, filename: str, stream: BinaryIO, *, max_bytes: int) -> Path:
    """Copy an upload to disk, refusing it once it grows past `max_bytes`."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{uuid.uuid4().hex[:12]}-{safe_filename(filename)}"
    written = 0
    with target.open("wb") as out:
        while block := stream.read(COPY_BLOCK):
            written += len(block)
            if written > max_bytes:
                out.close()
                target.unlink(missing_ok=True)
                mb = max_bytes // (1 << 20)
                raise PayloadTooLarge(f"the file is larger than {mb} MB", {"field": "file"})
            out.write(block)
    return target
