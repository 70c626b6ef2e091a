"""Bulk writers store datetimes on SQLite as text themselves: it must be SQLAlchemy's text."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, text

from siyu.db.bulk import sqlite_datetime
from siyu.db.types import UTCDateTime

_TABLE = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
_ENGINE = create_engine("sqlite://")
_TABLE.metadata.create_all(_ENGINE)
_ZONES = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)
)
_SAFE = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31))  # noqa: DTZ001


def _stored(value: datetime) -> str:
    with _ENGINE.begin() as connection:
        connection.execute(_TABLE.delete())
        connection.execute(insert(_TABLE).values(id=1, at=value))
        return str(connection.scalar(text("SELECT at FROM t")))


@given(_SAFE, st.one_of(st.just(UTC), _ZONES))
def test_the_text_is_what_sqlalchemy_stores(naive: datetime, zone: timezone) -> None:
    value = naive.replace(tzinfo=zone)
    assert sqlite_datetime(value) == _stored(value)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(datetime(2026, 1, 1))  # noqa: DTZ001
    assert sqlite_datetime(None) is None
