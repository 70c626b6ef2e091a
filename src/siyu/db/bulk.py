"""Bulk writes: one JSON parameter (or COPY) on PostgreSQL, a raw executemany on SQLite.

A multi-row VALUES statement carries one parameter per cell: thousands of placeholders
that SQLAlchemy must compile and psycopg must rewrite on every call. Arrays per column
(`unnest`) are short statements, but psycopg quotes every array element in Python. So
the rows go as one JSON document (encoded by the C JSON encoder) that the server turns
into a relation with `json_to_recordset`: a short, cacheable statement, one parameter.
Large imports that need no ON CONFLICT go through COPY instead (`insert_tuples`).

On SQLite the cost is Python's, not the database's: SQLAlchemy's executemany builds and
type-processes a parameter dict per row. `insert_rows` and `upsert` there hand the driver
plain tuples, with the few types SQLite cannot store as they are (aware datetimes, JSON)
converted the way SQLAlchemy stores them, and the columns' Python-side defaults filled.
"""

import gc
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import psycopg
import pydantic_core
from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session

from siyu.db.types import JSONDoc, UTCDateTime

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
# Allocations between young-generation collections during bulk work (Python's default: 700).
BULK_GC_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_users = 0
_gc_default = gc.get_threshold()


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while bulk work runs.

    A chunk of an import or a batch of events allocates hundreds of thousands of short-lived
    rows, dicts and tuples that reference counting frees; at the default threshold the
    collector runs every 700 allocations and rescans every survivor, a large share of the
    work. The threshold is process-wide, so it is raised while any thread is inside.
    """
    global _gc_users, _gc_default  # noqa: PLW0603 - one process-wide setting
    with _gc_lock:
        if _gc_users == 0:
            _gc_default = gc.get_threshold()
            gc.set_threshold(max(_gc_default[0], BULK_GC_THRESHOLD), *_gc_default[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_default)


def _record_type(table: Table, column: str) -> str:
    type_ = table.c[column].type
    if isinstance(type_, JSONDoc):
        return "jsonb"
    return str(type_.compile(dialect=_DIALECT))


def _rows_param(rows: Sequence[dict[str, Any]]) -> str:
    # pydantic-core's encoder writes datetimes and dates itself (ISO 8601) and is several
    # times faster than json.dumps calling back into Python for each of them.
    return pydantic_core.to_json(rows).decode()


def _checked(table: Table, names: Sequence[str]) -> list[str]:
    """Column names go into SQL text, so each must be a real column of the table."""
    unknown = [name for name in names if name not in table.c]
    if unknown:
        msg = f"{table.name} has no column(s) {', '.join(unknown)}"
        raise ValueError(msg)
    return list(names)


def _source(table: Table, columns: Sequence[str]) -> str:
    """The rows, sent as one JSON array in `:rows`, as a relation named `given`."""
    record = ", ".join(f"{c} {_record_type(table, c)}" for c in columns)
    return f"json_to_recordset(CAST(:rows AS json)) AS given({record})"


def insert_ignoring_conflicts(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, returning: str
) -> list[Any]:
    """INSERT the rows, skip those that hit a unique constraint, return `returning` of the rest."""
    columns = _checked(table, list(rows[0]))
    _checked(table, [returning])
    # Identifiers are checked against the table; values are bound.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(columns)} FROM {_source(table, columns)} "
        f"ON CONFLICT DO NOTHING RETURNING {returning}"
    )
    params = {"rows": _rows_param(rows)}
    return list(session.execute(text(sql), params).scalars())


def update_by_id(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    workspace_id: int,
    forward_only: str | None = None,
) -> None:
    """UPDATE rows of one workspace by `id`; each row dict holds `id` and the new values.

    With `forward_only`, a row changes only where that column is NULL or smaller.
    """
    columns = _checked(table, list(rows[0]))
    if forward_only is not None:
        _checked(table, [forward_only])
    assignments = ", ".join(f"{c} = given.{c}" for c in columns if c != "id")
    # Identifiers are checked against the table; values are bound.
    sql = (
        f"UPDATE {table.name} SET {assignments} FROM {_source(table, columns)} "  # noqa: S608
        f"WHERE {table.name}.workspace_id = :workspace_id AND {table.name}.id = given.id"
    )
    if forward_only is not None:
        current = f"{table.name}.{forward_only}"
        sql += f" AND ({current} IS NULL OR {current} < given.{forward_only})"
    params: dict[str, Any] = {"rows": _rows_param(rows)}
    params["workspace_id"] = workspace_id
    session.execute(text(sql), params)


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def among(
    session: Session,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Sequence[Any],
) -> ColumnElement[bool]:
    """`column IN values` with the values in one bound parameter, so the statement's text
    stays the same whatever their number (compiled once, no parameter limits): a JSON
    array read by `json_each` on SQLite, `= ANY(array)` on PostgreSQL."""
    element = column.expression if isinstance(column, QueryableAttribute) else column
    if _is_sqlite(session):
        return element.in_(listed(values).scalar_subquery())
    return element == any_(bindparam(None, list(values), type_=postgresql.ARRAY(element.type)))


def listed(values: Sequence[Any]) -> Select[Any]:
    """`values` as rows of one column, `value`, from one bound JSON array (compiled once
    whatever their number), for SQLite, which has no arrays (`json_each`)."""
    return select(literal_column("value")).select_from(func.json_each(json.dumps(list(values))))


def packed_ids(
    dialect: str, column: ColumnElement[Any] | QueryableAttribute[Any]
) -> ColumnElement[str]:
    """An aggregate of `column`'s integer values as one comma-separated string
    (`IdBits.parse` reads it): one value to fetch instead of a row per id. The separator
    is written into the statement: bound as a parameter, SQLite's group_concat takes twice
    as long (156 vs 79 ms for 350,000 values)."""
    comma: ColumnElement[str] = literal_column("','")
    if dialect == "postgresql":
        return func.string_agg(cast(column, Text), comma)
    return func.group_concat(column, comma)


def take_ids(session: Session, table: Table, count: int) -> list[int]:
    """Ids for `count` new rows of `table`, ascending, so a bulk insert needs no RETURNING
    (which SQLite cannot return in a known order for a batched INSERT) or read-back.

    PostgreSQL: from the id column's sequence, named as a parameter (a sequence looked up
    per row made this 7x slower). SQLite: the write transaction holds the database lock
    (BEGIN IMMEDIATE), so the ids after the current maximum are ours; ids span
    workspaces, hence no tenant filter.
    """
    if _is_sqlite(session):
        first = (session.scalar(select(func.max(table.c.id))) or 0) + 1
        return list(range(first, first + count))
    sequence = session.scalar(
        text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
    )
    return sorted(
        session.scalars(
            text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)"),
            {"sequence": sequence, "count": count},
        )
    )


def sqlite_datetime(value: datetime | None) -> str | None:
    """An aware datetime as SQLAlchemy stores a UTCDateTime on SQLite (naive UTC text)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            msg = "naive datetime given; Siyu stores aware UTC datetimes only"
            raise ValueError(msg)
        value = value.astimezone(UTC)
    # isoformat(" ", "microseconds") without the offset; formatting the fields is faster.
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _same(value: Any) -> Any:
    return value


def _remembering(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert`, answering at once when given the same object again (row timestamps)."""
    last: list[Any] = [object(), None]

    def converted(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return converted


def _sqlite_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _sqlite_date(value: date | None) -> str | None:
    """A date as SQLAlchemy stores a Date on SQLite (ISO text)."""
    return None if value is None else value.isoformat()


def _sqlite_converter(table: Table, column: str) -> Callable[[Any], Any] | None:
    type_ = table.c[column].type
    if isinstance(type_, UTCDateTime):
        return sqlite_datetime
    if isinstance(type_, Date):
        return _sqlite_date
    if isinstance(type_, JSONDoc | JSON):
        return _sqlite_json
    return None


def _python_defaults(table: Table, given: Sequence[str]) -> dict[str, Any]:
    """Python-side defaults of the columns the rows leave out (what Core's insert adds)."""
    filled: dict[str, Any] = {}
    for column in table.c:
        default = column.default
        if column.name in given or default is None or column.primary_key:
            continue
        if default.is_scalar:
            filled[column.name] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            filled[column.name] = default.arg(None)  # type: ignore[attr-defined]
    return filled


def _sqlite_insert(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], suffix: str = ""
) -> int:
    given = list(rows[0])
    pick = itemgetter(*given)
    if len(given) == 1:
        return _sqlite_insert_tuples(session, table, given, [(pick(row),) for row in rows], suffix)
    return _sqlite_insert_tuples(session, table, given, [pick(row) for row in rows], suffix)


def _sqlite_insert_tuples(
    session: Session,
    table: Table,
    given: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    suffix: str = "",
) -> int:
    defaults = _python_defaults(table, given)
    columns = _checked(table, [*given, *defaults])
    constants = tuple(
        (_sqlite_converter(table, c) or _same)(value) for c, value in defaults.items()
    )
    converting = [
        (i, _remembering(convert))
        for i, c in enumerate(given)
        if (convert := _sqlite_converter(table, c)) is not None
    ]
    params: Sequence[tuple[Any, ...]] = rows
    if converting or constants:
        params = []
        for values in rows:
            if converting:
                changed = list(values)
                for i, convert in converting:
                    changed[i] = convert(changed[i])
                values = tuple(changed)  # noqa: PLW2901 - the converted row replaces it
            params.append(values + constants)
    # Identifiers are checked against the table; values are bound.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(columns))}){suffix}"
    )
    return int(session.connection().exec_driver_sql(sql, params).rowcount)


def insert_tuples(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> int:
    """INSERT rows given as tuples in `columns` order (large imports): on SQLite they go to
    the driver without a dict per row, on PostgreSQL through COPY, several times faster
    than an INSERT. A row that hits a unique constraint raises IntegrityError."""
    if _is_sqlite(session):
        return _sqlite_insert_tuples(session, table, columns, rows)
    _checked(table, columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    # Identifiers are checked against the table; values travel as COPY data.
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.errors.IntegrityError as exc:
        raise IntegrityError(sql, None, exc) from exc
    return len(rows)


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> int:
    """INSERT the rows (all with the same keys) in one statement; returns how many were
    stored. Columns the rows leave out take their Python-side defaults, as with Core's
    insert. With `ignore_conflicts`, rows that hit a unique constraint are skipped."""
    suffix = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if _is_sqlite(session):
        return _sqlite_insert(session, table, rows, suffix)
    defaults = _python_defaults(table, list(rows[0]))
    if defaults:
        rows = [{**row, **defaults} for row in rows]
    columns = _checked(table, list(rows[0]))
    # Identifiers are checked against the table; values are bound.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(columns)} FROM {_source(table, columns)}{suffix}"
    )
    result = session.execute(text(sql), {"rows": _rows_param(rows)})
    return int(result.rowcount)  # type: ignore[attr-defined]


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    keep_when_null: Sequence[str] = (),
    add: Sequence[str] = (),
    constants: dict[str, Any] | None = None,
) -> None:
    """INSERT the rows; on a conflict over `conflict`, take the new `update` columns, the new
    `keep_when_null` columns unless NULL, add the new `add` columns to the stored ones, and
    set `constants`."""
    columns = _checked(table, list(rows[0]))
    constants = constants or {}
    _checked(table, [*conflict, *update, *keep_when_null, *add, *constants])
    assignments = [f"{c} = EXCLUDED.{c}" for c in update]
    assignments += [f"{c} = COALESCE(EXCLUDED.{c}, {table.name}.{c})" for c in keep_when_null]
    assignments += [f"{c} = {table.name}.{c} + EXCLUDED.{c}" for c in add]
    if _is_sqlite(session):
        # Row by row: a key repeated in `rows` is updated by its later rows.
        converted = {c: _sqlite_converter(table, c) for c in constants}
        assignments += [
            f"{c} = {_sqlite_literal(value, converted[c])}" for c, value in constants.items()
        ]
        _sqlite_insert(
            session,
            table,
            rows,
            f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {', '.join(assignments)}",
        )
        return
    assignments += [f"{c} = :const_{c}" for c in constants]
    # Identifiers are checked against the table; values are bound.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(columns)} FROM {_source(table, columns)} "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {', '.join(assignments)}"
    )
    params: dict[str, Any] = {"rows": _rows_param(rows)}
    params.update({f"const_{c}": value for c, value in constants.items()})
    session.execute(text(sql), params)


def _sqlite_literal(value: Any, convert: Callable[[Any], Any] | None) -> str:
    """A constant of an ON CONFLICT clause as an SQL literal (numbers and text only)."""
    value = value if convert is None else convert(value)
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    msg = f"unsupported constant {value!r}"
    raise TypeError(msg)
