"""Media (protocol.md §6): temporary media for attachments and permanent image URLs.

`media/upload?type=image|voice|video|file` takes the multipart field `media` and answers a
media id valid three days (simulator clock); `media/uploadimg` answers a permanent URL.
Limits as WeCom documents them: every file over 5 bytes; images JPG/PNG ≤ 10 MB, voice
AMR ≤ 2 MB, video MP4 ≤ 10 MB, other files ≤ 20 MB; uploadimg JPG/PNG ≤ 2 MB.
"""

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from weakref import WeakKeyDictionary

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.registry import CONTACT, Params, api
from siyu.connectors.wecom_sim.state import SimState

MB = 1 << 20
MEDIA_TTL = 3 * 24 * 3600
MIN_BYTES = 5
# type -> (allowed extensions or None for any, max bytes, errcode for a file too large)
RULES: dict[str, tuple[frozenset[str] | None, int, int]] = {
    "image": (frozenset({"jpg", "jpeg", "png"}), 10 * MB, 40009),
    "voice": (frozenset({"amr"}), 2 * MB, 40010),
    "video": (frozenset({"mp4"}), 10 * MB, 40011),
    "file": (None, 20 * MB, 40006),
}
UPLOADIMG_MAX = 2 * MB


@dataclass(frozen=True)
class Media:
    media_id: str
    type: str
    filename: str
    content: bytes
    created_at: int

    def expired(self, now: float) -> bool:
        return now >= self.created_at + MEDIA_TTL


@dataclass
class _Store:
    generation: int
    media: dict[str, Media]
    images: dict[str, bytes]


_STORES: "WeakKeyDictionary[SimState, _Store]" = WeakKeyDictionary()


def store(state: SimState) -> _Store:
    """The state's uploaded media; a reset of the corp forgets them. Hold `state.lock`."""
    found = _STORES.get(state)
    if found is None or found.generation != state.generation:
        found = _Store(state.generation, {}, {})
        _STORES[state] = found
    return found


def find_media(state: SimState, media_id: str) -> Media | None:
    """The media with this id while it is valid (None when unknown or expired)."""
    with state.lock:
        media = store(state).media.get(media_id)
        if media is None or media.expired(state.now()):
            return None
        return media


def _file(params: Params) -> tuple[str, bytes]:
    part = params.get("media")
    if not isinstance(part, tuple) or len(part) != 3:
        raise ApiError(41005, "media data missing: send the file as the multipart field 'media'")
    filename, _content_type, content = part
    if len(content) == 0:
        raise ApiError(44001, "empty media data")
    if len(content) < MIN_BYTES:
        raise ApiError(40006, f"a media file must be larger than {MIN_BYTES} bytes")
    return str(filename), bytes(content)


def _extension(filename: str) -> str:
    return PurePosixPath(filename).suffix.lower().lstrip(".")


@api("media/upload", "POST", CONTACT)
def media_upload(state: SimState, params: Params) -> dict[str, Any]:
    media_type = params.get("type")
    if media_type not in RULES:
        raise ApiError(40004, "invalid media type: image, voice, video or file")
    filename, content = _file(params)
    extensions, max_bytes, too_large = RULES[media_type]
    if extensions is not None and _extension(filename) not in extensions:
        raise ApiError(40005, f"invalid file type for {media_type}: {sorted(extensions)}")
    if len(content) > max_bytes:
        raise ApiError(too_large, f"{media_type} larger than {max_bytes // MB} MB")
    media = Media(
        state.random_id(
            "3", 63, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
        ),
        media_type,
        filename,
        content,
        state.now_int(),
    )
    store(state).media[media.media_id] = media
    return {"type": media_type, "media_id": media.media_id, "created_at": str(media.created_at)}


@api("media/uploadimg", "POST", CONTACT)
def media_uploadimg(state: SimState, params: Params) -> dict[str, Any]:
    filename, content = _file(params)
    if _extension(filename) not in {"jpg", "jpeg", "png"}:
        raise ApiError(40005, "invalid file type: jpg or png")
    if len(content) > UPLOADIMG_MAX:
        raise ApiError(40009, "image larger than 2 MB")
    key = state.random_id("", 32, "0123456789abcdef")
    store(state).images[key] = content
    return {"url": f"https://wework.qpic.cn/wwpic/{key}/0"}
