"""The simulated /cgi-bin/ APIs, registered by path with their method and secret scope."""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from siyu.connectors.wecom_sim.errors import ApiError
from siyu.connectors.wecom_sim.state import SecretKind, SimState

Params = dict[str, Any]
Handler = Callable[[SimState, Params], dict[str, Any]]


@dataclass(frozen=True)
class Api:
    path: str
    method: Literal["GET", "POST"]
    scopes: frozenset[SecretKind]
    handler: Handler
    # The empty list field WeCom includes even when a list call fails.
    empty_on_error: dict[str, list[object]]
    needs_token: bool = True


APIS: dict[str, Api] = {}
_CURSOR_PREFIX = "siyu-sim:"
CONTACT: frozenset[SecretKind] = frozenset({"contact"})
DIRECTORY: frozenset[SecretKind] = frozenset({"directory"})
BOTH: frozenset[SecretKind] = frozenset({"contact", "directory"})


def api(
    path: str,
    method: Literal["GET", "POST"],
    scopes: frozenset[SecretKind] = CONTACT,
    *,
    list_field: str | None = None,
    needs_token: bool = True,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        empty: dict[str, list[object]] = {list_field: []} if list_field else {}
        APIS[path] = Api(path, method, scopes, handler, empty, needs_token)
        return handler

    return register


# Request field helpers: WeCom answers a missing or malformed field with a business errcode.


def text(params: Params, name: str, missing: int, *, max_len: int | None = None) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(missing, f"{name} missing")
    if not isinstance(value, str):
        raise ApiError(40058, f"{name} must be a string")
    if max_len is not None and len(value) > max_len:
        raise ApiError(40058, f"{name} exceeds {max_len} chars")
    return value


def optional_text(params: Params, name: str, *, max_len: int | None = None) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(40058, f"{name} must be a string")
    if max_len is not None and len(value) > max_len:
        raise ApiError(40058, f"{name} exceeds {max_len} chars")
    return value


def integer(params: Params, name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ApiError(40058, f"{name} must be an integer")
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if not isinstance(value, int):
        raise ApiError(40058, f"{name} must be an integer")
    return value


def string_list(params: Params, name: str) -> list[str]:
    value = params.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(40058, f"{name} must be a list of strings")
    return value


def decode_cursor(cursor: str) -> int:
    """The offset an opaque cursor stands for (0 for none)."""
    if not cursor:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(40058, "invalid cursor") from exc
    if not decoded.startswith(_CURSOR_PREFIX) or not decoded[len(_CURSOR_PREFIX) :].isdigit():
        raise ApiError(40058, "invalid cursor")
    return int(decoded[len(_CURSOR_PREFIX) :])


def page(items: list[Any], cursor: str, limit: int) -> tuple[list[Any], str]:
    """Slice by an opaque cursor; the next cursor is empty on the last page."""
    start = decode_cursor(cursor)
    chunk = items[start : start + limit]
    end = start + len(chunk)
    return chunk, (encode_cursor(end) if end < len(items) else "")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()
