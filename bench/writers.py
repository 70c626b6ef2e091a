"""Bulk row writers for bench/generate.py: COPY on PostgreSQL, executemany on SQLite."""

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import Engine


class Writer:
    """Writes rows of one table; subclasses know the dialect's fastest path."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.raw = engine.raw_connection()
        self.rows_written: dict[str, int] = {}
        self.with_ids: set[str] = set()

    def ts(self, epoch_seconds: int) -> str:
        raise NotImplementedError

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.raw.commit()

    def count(self, table: str, columns: Sequence[str], n: int) -> None:
        self.rows_written[table] = self.rows_written.get(table, 0) + n
        if "id" in columns:
            self.with_ids.add(table)

    def finish(self) -> None:
        self.raw.close()


class SqliteWriter(Writer):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.cursor = self.raw.cursor()
        self.cursor.execute("PRAGMA synchronous=OFF")
        self.cursor.execute("BEGIN")

    def ts(self, epoch_seconds: int) -> str:
        # SQLAlchemy's SQLite DATETIME storage format, naive UTC.
        return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(epoch_seconds))

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        marks = ", ".join("?" for _ in columns)
        self.cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )
        self.count(table, columns, len(rows))

    def commit(self) -> None:
        self.cursor.execute("COMMIT")
        self.cursor.execute("BEGIN")

    def finish(self) -> None:
        self.cursor.execute("COMMIT")
        self.cursor.execute("ANALYZE")
        self.cursor.execute("PRAGMA synchronous=NORMAL")
        super().finish()


class PostgresWriter(Writer):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        connection = self.raw.driver_connection
        assert connection is not None
        self.connection: Any = connection
        # The generated rows are consistent by construction; skipping the per-row foreign
        # key triggers (superuser only) makes COPY several times faster.
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            self.connection.rollback()

    def ts(self, epoch_seconds: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch_seconds))

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        self.count(table, columns, len(rows))

    def finish(self) -> None:
        with self.connection.cursor() as cursor:
            for table in self.with_ids:
                # Rows came with explicit ids: move each id sequence past them.
                cursor.execute(
                    f"SELECT setval(seq, (SELECT max(id) FROM {table})) "
                    "FROM (SELECT pg_get_serial_sequence(%s, 'id') AS seq) AS s "
                    "WHERE seq IS NOT NULL",
                    (table,),
                )
            cursor.execute("SET session_replication_role = DEFAULT")
            self.connection.commit()
            self.connection.autocommit = True
            cursor.execute("ANALYZE")
        # the connection goes back to the engine's pool as it came out
        self.connection.autocommit = False
        super().finish()


def writer_for(engine: Engine) -> Writer:
    return SqliteWriter(engine) if engine.dialect.name == "sqlite" else PostgresWriter(engine)
