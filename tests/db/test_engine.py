from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from siyu.db.engine import build_engine, read_only


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_sqlite_write_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    other = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as writer:
        writer.begin()
        writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE already holds the write lock
        probe = other.raw_connection()
        try:
            probe.execute("PRAGMA busy_timeout=0")
            with pytest.raises(Exception, match="locked"):
                probe.execute("BEGIN IMMEDIATE")
        finally:
            probe.close()
        writer.rollback()


def test_read_only_sessions_do_not_block_writers(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with read_only(engine).connect() as reader:
        reader.begin()
        reader.execute(text("SELECT count(*) FROM t"))
        with engine.begin() as writer:
            writer.execute(text("INSERT INTO t VALUES (1)"))
        reader.rollback()


def test_engine_under_test_answers(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
