"""Profile conditions: text, number, date and custom-field predicates on the customer row."""

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute

from siyu.models import Customer
from siyu.segments.context import CompileContext
from siyu.segments.nodes import ProfileCondition


def profile_column(condition: ProfileCondition) -> Any:
    if not condition.field.startswith("custom."):
        column: InstrumentedAttribute[Any] = getattr(Customer, condition.field)
        return column
    key = condition.field.removeprefix("custom.")
    element = Customer.custom_fields[key]
    if condition.kind == "number":
        return element.as_float()
    if condition.kind == "choices":
        return element
    return element.as_string()


def profile_predicate(
    condition: ProfileCondition, column: Any, ctx: CompileContext
) -> ColumnElement[bool]:
    op, value = condition.op, condition.value
    if op == "is_set":
        return and_(column.is_not(None), *_non_empty(condition, column))
    if op == "is_not_set":
        return or_(column.is_(None), *[~c for c in _non_empty(condition, column)])
    if condition.kind == "choices":
        return _contains_choice(column, str(value), ctx)
    if condition.kind in ("date", "datetime"):
        return _date_predicate(condition, column, ctx)
    if condition.kind == "number":
        return _number_predicate(op, column, value)
    return _text_predicate(op, column, value)


def _non_empty(condition: ProfileCondition, column: Any) -> list[ColumnElement[bool]]:
    return [column != ""] if condition.kind == "text" else []


def _text_predicate(op: str, column: Any, value: Any) -> ColumnElement[bool]:
    match op:
        case "eq":
            return column == value  # type: ignore[no-any-return]
        case "ne":
            return or_(column.is_(None), column != value)
        case "in":
            return column.in_(value)  # type: ignore[no-any-return]
        case "not_in":
            return or_(column.is_(None), column.not_in(value))
        case "contains":
            return column.contains(value, autoescape=True)  # type: ignore[no-any-return]
        case _:
            return column.startswith(value, autoescape=True)  # type: ignore[no-any-return]


def _number_predicate(op: str, column: Any, value: Any) -> ColumnElement[bool]:
    if op == "between":
        return column.between(value[0], value[1])  # type: ignore[no-any-return]
    return {  # type: ignore[no-any-return]
        "eq": column == value,
        "ne": or_(column.is_(None), column != value),
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }[op]


def _date_predicate(
    condition: ProfileCondition, column: Any, ctx: CompileContext
) -> ColumnElement[bool]:
    op, value = condition.op, condition.value
    stored_as_date = condition.kind == "date"
    if op == "birthday_within_days":
        return _birthday_within(column, int(value), ctx)
    if op == "within_last_days":
        start = ctx.today - timedelta(days=int(value) - 1)
        return column >= (_date_value(start, condition) if stored_as_date else ctx.day_start(start))  # type: ignore[no-any-return]
    if op == "more_than_days_ago":
        # N days ago is still "N days ago"; more than that starts the day before.
        cutoff = ctx.today - timedelta(days=int(value))
        bound = _date_value(cutoff, condition) if stored_as_date else ctx.day_start(cutoff)
        return column < bound  # type: ignore[no-any-return]
    low, high = value
    if stored_as_date:
        return column.between(_date_value(low, condition), _date_value(high, condition))  # type: ignore[no-any-return]
    return and_(column >= ctx.day_start(low), column < ctx.day_start(high + timedelta(days=1)))


def _date_value(day: date, condition: ProfileCondition) -> date | str:
    """Custom date fields are stored as ISO text in JSON; the birthday column is a date."""
    return day.isoformat() if condition.field.startswith("custom.") else day


def _birthday_within(column: Any, days: int, ctx: CompileContext) -> ColumnElement[bool]:
    """Birthdays (year ignored) from today through the next `days` days; Feb 29 birthdays
    count on Feb 28 in years without a Feb 29."""
    wanted: set[str] = set()
    for offset in range(min(days, 366) + 1):
        day = ctx.today + timedelta(days=offset)
        wanted.add(day.strftime("%m-%d"))
        if day.month == 2 and day.day == 28 and not _leap(day.year):
            wanted.add("02-29")
    if ctx.dialect == "postgresql":
        month_day = func.to_char(column, "MM-DD")
    else:
        month_day = func.strftime("%m-%d", column)
    return month_day.in_(sorted(wanted))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _contains_choice(column: Any, value: str, ctx: CompileContext) -> ColumnElement[bool]:
    if ctx.dialect == "postgresql":
        wanted = cast(literal(json.dumps([value], ensure_ascii=False)), JSONB)
        return column.op("@>")(wanted)  # type: ignore[no-any-return]
    options = func.json_each(Customer.custom_fields, literal(_json_path(column))).table_valued(
        "value"
    )
    return select(1).select_from(options).where(options.c.value == value).exists()


def _json_path(column: Any) -> str:
    """The SQLite JSON path of a custom_fields[key] element."""
    key = str(column.right.value)
    return '$."' + key.replace('"', '\\"') + '"'
