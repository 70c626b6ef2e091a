"""Bulk writes on PostgreSQL through `unnest` of array parameters.

A multi-row VALUES statement carries one parameter per cell: thousands of placeholders
that SQLAlchemy must compile and psycopg must rewrite on every call. `unnest` passes one
array per column instead, so a 1,000-row write is a short, cacheable statement with a
handful of parameters.
"""

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from siyu.db.types import JSONDoc

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _array_type(table: Table, column: str) -> str:
    type_ = table.c[column].type
    if isinstance(type_, JSONDoc):
        return "jsonb[]"
    return f"{type_.compile(dialect=_DIALECT)}[]"


def _array(table: Table, column: str, rows: Sequence[dict[str, Any]]) -> list[Any]:
    if isinstance(table.c[column].type, JSONDoc):
        return [Jsonb(row[column]) for row in rows]
    return [row[column] for row in rows]


def _checked(table: Table, names: Sequence[str]) -> list[str]:
    """Column names go into SQL text, so each must be a real column of the table."""
    unknown = [name for name in names if name not in table.c]
    if unknown:
        msg = f"{table.name} has no column(s) {', '.join(unknown)}"
        raise ValueError(msg)
    return list(names)


def _source(table: Table, columns: Sequence[str]) -> str:
    arrays = ", ".join(f"CAST(:{c} AS {_array_type(table, c)})" for c in columns)
    return f"unnest({arrays}) AS given({', '.join(columns)})"


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
    params = {c: _array(table, c, rows) for c in columns}
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
    params: dict[str, Any] = {c: _array(table, c, rows) for c in columns}
    params["workspace_id"] = workspace_id
    session.execute(text(sql), params)


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT the rows (all with the same keys) in one statement."""
    columns = _checked(table, list(rows[0]))
    # Identifiers are checked against the table; values are bound.
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM {_source(table, columns)}"  # noqa: S608
    session.execute(text(sql), {c: _array(table, c, rows) for c in columns})


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    keep_when_null: Sequence[str] = (),
    constants: dict[str, Any] | None = None,
) -> None:
    """INSERT the rows; on a conflict over `conflict`, take the new `update` columns, the new
    `keep_when_null` columns unless NULL, and set `constants`."""
    columns = _checked(table, list(rows[0]))
    constants = constants or {}
    _checked(table, [*conflict, *update, *keep_when_null, *constants])
    assignments = [f"{c} = EXCLUDED.{c}" for c in update]
    assignments += [f"{c} = COALESCE(EXCLUDED.{c}, {table.name}.{c})" for c in keep_when_null]
    assignments += [f"{c} = :const_{c}" for c in constants]
    # Identifiers are checked against the table; values are bound.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT * FROM {_source(table, columns)} "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {', '.join(assignments)}"
    )
    params: dict[str, Any] = {c: _array(table, c, rows) for c in columns}
    params.update({f"const_{c}": value for c, value in constants.items()})
    session.execute(text(sql), params)
