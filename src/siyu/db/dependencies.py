"""The request's unit of work: one session, committed once before the response is sent."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from siyu.db.session import session_factory

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sessions(request: Request, *, write: bool) -> sessionmaker[Session]:
    engine = request.app.state.engine
    key = "write_sessions" if write else "read_sessions"
    maker: sessionmaker[Session] | None = getattr(request.app.state, key, None)
    if maker is None:
        maker = session_factory(engine, write=write)
        setattr(request.app.state, key, maker)
    return maker


def reads_only(request: Request) -> None:
    """Route dependency for a POST that changes nothing (its input too structured for a
    query string): its unit of work only reads, so on SQLite it takes no write lock."""
    request.state.writes = False


def writes(request: Request) -> None:
    """Route dependency for a GET that records something (an audited export): its unit of
    work takes SQLite's write lock up front. A read turned into a write is refused once
    another writer has committed since it began."""
    request.state.writes = True


def request_writes(request: Request) -> bool:
    """Whether the request's unit of work writes (by its method, unless its route says)."""
    return bool(getattr(request.state, "writes", request.method not in SAFE_METHODS))


def _db_session(request: Request) -> Iterator[Session]:
    session = _sessions(request, write=request_writes(request))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit runs when the endpoint returns, before the response is sent,
# so a client never sees success for work that then failed to commit.
DbSession = Annotated[Session, Depends(_db_session, scope="function")]
