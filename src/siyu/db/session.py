"""One unit of work per request or job: opened here, committed once by its owner."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from siyu.config import get_settings
from siyu.db.engine import build_engine, read_only

_engine: Engine | None = None


def get_engine() -> Engine:
    global _engine  # noqa: PLW0603 - one engine per process, built lazily
    if _engine is None:
        _engine = build_engine(get_settings().database_url)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Replace the process engine (tests, CLI `--database-url`)."""
    global _engine  # noqa: PLW0603
    _engine = engine


def session_factory(engine: Engine | None = None, *, write: bool = True) -> sessionmaker[Session]:
    bound = engine or get_engine()
    return sessionmaker(bind=bound if write else read_only(bound), expire_on_commit=False)


@contextmanager
def unit_of_work(engine: Engine | None = None, *, write: bool = True) -> Iterator[Session]:
    """Open a session, commit it if the block succeeds, roll it back if it raises."""
    session = session_factory(engine, write=write)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
