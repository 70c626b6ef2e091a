"""Typed customer fields a workspace defines, and the validation of their values."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    delete,
    func,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.models import Customer, CustomField

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TEXT_LENGTH = 1000
MAX_OPTIONS = 200
# Import files separate multiple choices with ASCII or full-width commas or 、.
CHOICE_SEPARATORS = re.compile(r"[,，、;；]")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"


CHOICE_TYPES = frozenset({FieldType.CHOICE, FieldType.MULTI_CHOICE})


@dataclass(frozen=True)
class FieldChanges:
    label: str | None = None
    options: list[str] | None = None
    sort_order: int | None = None


def _definitions_query(workspace_id: int) -> Select[CustomField]:
    return select(CustomField).where(CustomField.workspace_id == workspace_id)


def list_fields(session: Session, workspace_id: int) -> list[CustomField]:
    stmt = _definitions_query(workspace_id).order_by(CustomField.sort_order, CustomField.id)
    return list(session.scalars(stmt))


def definitions(session: Session, workspace_id: int) -> dict[str, CustomField]:
    return {field.key: field for field in list_fields(session, workspace_id)}


def get_field(session: Session, workspace_id: int, field_id: int) -> CustomField:
    field = session.scalar(_definitions_query(workspace_id).where(CustomField.id == field_id))
    if field is None:
        raise NotFound("custom field")
    return field


def _clean_options(field_type: FieldType, options: list[str] | None) -> list[str]:
    if field_type not in CHOICE_TYPES:
        if options:
            raise ValidationFailed("options", f"a {field_type.value} field has no options")
        return []
    cleaned: list[str] = []
    for index, option in enumerate(options or []):
        text = option.strip()
        if not text:
            raise ValidationFailed(f"options[{index}]", "must not be empty")
        if CHOICE_SEPARATORS.search(text):
            raise ValidationFailed(f"options[{index}]", "must not contain commas or 、")
        if text in cleaned:
            raise ValidationFailed(f"options[{index}]", f"duplicate option {text!r}")
        cleaned.append(text)
    if not cleaned:
        raise ValidationFailed("options", "a choice field needs at least one option")
    if len(cleaned) > MAX_OPTIONS:
        raise ValidationFailed("options", f"at most {MAX_OPTIONS} options")
    return cleaned


def create_field(
    session: Session,
    workspace_id: int,
    *,
    key: str,
    label: str,
    field_type: FieldType,
    options: list[str] | None = None,
    sort_order: int = 0,
) -> CustomField:
    if not KEY_PATTERN.match(key):
        raise ValidationFailed("key", "use a lowercase letter, then letters, digits or _")
    if not label.strip():
        raise ValidationFailed("label", "must not be empty")
    existing = definitions(session, workspace_id)
    if key in existing:
        raise Conflict(f"custom field {key!r} already exists", {"field": "key"})
    if any(f.label == label.strip() for f in existing.values()):
        raise Conflict(f"custom field label {label!r} already used", {"field": "label"})
    field = CustomField(
        workspace_id=workspace_id,
        key=key,
        label=label.strip(),
        field_type=field_type.value,
        options=_clean_options(field_type, options),
        sort_order=sort_order,
    )
    session.add(field)
    session.flush()
    return field


def update_field(
    session: Session, workspace_id: int, field_id: int, changes: FieldChanges
) -> CustomField:
    """Change label, options or order; key and type are fixed because values depend on them."""
    field = get_field(session, workspace_id, field_id)
    if changes.label is not None:
        label = changes.label.strip()
        if not label:
            raise ValidationFailed("label", "must not be empty")
        taken = session.scalar(
            _definitions_query(workspace_id).where(
                CustomField.label == label, CustomField.id != field.id
            )
        )
        if taken is not None:
            raise Conflict(f"custom field label {label!r} already used", {"field": "label"})
        field.label = label
    if changes.options is not None:
        field.options = _clean_options(FieldType(field.field_type), changes.options)
    if changes.sort_order is not None:
        field.sort_order = changes.sort_order
    session.flush()
    return field


def delete_field(session: Session, workspace_id: int, field_id: int) -> None:
    """Remove the definition and its value from every customer of the workspace."""
    field = get_field(session, workspace_id, field_id)
    dialect = session.get_bind().dialect.name
    stripped: ColumnElement[Any]
    has_key: ColumnElement[Any]
    if dialect == "postgresql":
        document = type_coerce(Customer.custom_fields, JSONB)
        stripped = document.op("-", return_type=JSONB)(literal(field.key, String()))
        has_key = document.has_key(field.key)
    else:
        path = _json_path(field.key)
        stripped = func.json_remove(Customer.custom_fields, path)
        has_key = func.json_type(Customer.custom_fields, path).is_not(None)
    session.execute(
        update(Customer)
        .where(Customer.workspace_id == workspace_id, has_key)
        .values(custom_fields=stripped)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(CustomField).where(CustomField.id == field.id))
    session.expire_all()


def _json_path(key: str) -> str:
    return f'$."{key}"'


def coerce_value(field: CustomField, value: Any, *, name: str) -> Any:
    """Check one value against its definition; strings (import files) are parsed.

    Returns the stored form: str, int or float, ISO date string, or list of str.
    `name` is the input's field path used in errors, e.g. `custom_fields.level`.
    """
    field_type = FieldType(field.field_type)
    if field_type is FieldType.TEXT:
        if not isinstance(value, str):
            raise ValidationFailed(name, "must be text")
        if len(value) > MAX_TEXT_LENGTH:
            raise ValidationFailed(name, f"at most {MAX_TEXT_LENGTH} characters")
        return value
    if field_type is FieldType.NUMBER:
        return _number(value, name)
    if field_type is FieldType.DATE:
        return parse_date(value, name).isoformat()
    if field_type is FieldType.CHOICE:
        if not isinstance(value, str) or value.strip() not in field.options:
            raise ValidationFailed(name, f"must be one of: {', '.join(field.options)}")
        return value.strip()
    items = CHOICE_SEPARATORS.split(value) if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValidationFailed(name, "must be a list of options")
    chosen: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item not in field.options:
            raise ValidationFailed(name, f"{item!r} is not one of: {', '.join(field.options)}")
        if item not in chosen:
            chosen.append(item)
    return chosen


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, bool):
        raise ValidationFailed(name, "must be a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationFailed(name, "must be a number") from None
        if not parsed.is_finite():
            raise ValidationFailed(name, "must be a number")
        return int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
    raise ValidationFailed(name, "must be a number")


def parse_date(value: Any, name: str) -> date:
    """A calendar date from a date, datetime or text in the usual Chinese spreadsheet forms."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for fmt in DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
            except ValueError:
                continue
    raise ValidationFailed(name, "must be a date (YYYY-MM-DD)")


def validate_values(
    fields: Mapping[str, CustomField], values: Mapping[str, Any], *, prefix: str = "custom_fields"
) -> dict[str, Any]:
    """Validate a change set: {key: value or None (remove)}; errors name `prefix.key`."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}"
        field = fields.get(key)
        if field is None:
            raise ValidationFailed(name, "no such custom field")
        cleaned[key] = None if value is None else coerce_value(field, value, name=name)
    return cleaned


def apply_values(current: Mapping[str, Any], cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """The new document: cleaned values set, None values (and empty lists) removed."""
    merged = dict(current)
    for key, value in cleaned.items():
        if value is None or value == []:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
