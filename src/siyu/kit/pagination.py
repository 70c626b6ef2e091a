"""Keyset pagination and sorting for list endpoints: no OFFSET, no COUNT(*) per page."""

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_

from siyu.exceptions import ValidationFailed

T = TypeVar("T")
ItemT = TypeVar("ItemT")
MAX_LIMIT = 200


class PageOut(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


@dataclass(frozen=True)
class SortSpec:
    """A requested order: one whitelisted column, always tie-broken by the row id."""

    field: str
    descending: bool

    @classmethod
    def parse(cls, raw: str | None, allowed: Sequence[str], default: str) -> "SortSpec":
        text = (raw or default).strip()
        descending = text.startswith("-")
        field = text.lstrip("-+")
        if field not in allowed:
            raise ValidationFailed(
                "sort", f"cannot sort by {field!r}; allowed: {', '.join(allowed)}"
            )
        return cls(field, descending)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"dt"}:
        return datetime.fromisoformat(value["dt"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor", "malformed cursor") from exc
    if not isinstance(values, list) or len(values) != width:
        raise ValidationFailed("cursor", "malformed cursor")
    return [_decode_value(v) for v in values]


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def _after(
    columns: Sequence[ColumnElement[Any]], values: Sequence[Any], desc: bool
) -> ColumnElement[bool]:
    """(c1, c2, …) strictly after (v1, v2, …) in the given direction, NULL-free columns."""
    clauses: list[ColumnElement[bool]] = []
    for i, column in enumerate(columns):
        equal_prefix = [columns[j] == values[j] for j in range(i)]
        step = column < values[i] if desc else column > values[i]
        clauses.append(and_(*equal_prefix, step))
    return or_(*clauses)


def paginate(
    stmt: Select[Any],
    *,
    columns: Mapping[str, ColumnElement[Any]],
    id_column: ColumnElement[Any],
    sort: SortSpec,
    cursor: str | None,
    limit: int,
) -> tuple[Select[Any], "PageBuilder"]:
    """Apply order, keyset condition and limit+1; the builder turns rows into a page."""
    sort_column = columns[sort.field]
    keys = [sort_column, id_column] if sort_column is not id_column else [id_column]
    if cursor:
        values = decode_cursor(cursor, len(keys))
        stmt = stmt.where(_after(keys, values, sort.descending))
    order = [k.desc() if sort.descending else k.asc() for k in keys]
    return stmt.order_by(*order).limit(check_limit(limit) + 1), PageBuilder(
        [k.key or "" for k in keys], limit
    )


@dataclass(frozen=True)
class PageBuilder:
    key_names: list[str]
    limit: int

    def build(self, rows: Sequence[T], key_of: Any = None) -> tuple[list[T], str | None]:
        """Return the page's rows and the cursor after the last one (None on the last page)."""
        items = list(rows[: self.limit])
        if len(rows) <= self.limit or not items:
            return items, None
        last = items[-1]
        getter = key_of or getattr
        return items, encode_cursor([getter(last, name) for name in self.key_names])
