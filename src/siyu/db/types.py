"""Portable column types: the same model runs on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class JSONDoc(TypeDecorator[Any]):
    """JSON documents: JSONB on PostgreSQL, JSON text on SQLite."""

    impl = JSON()
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given; Siyu stores aware UTC datetimes only"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedString(TypeDecorator[SecretStr]):
    """A provider secret, Fernet-encrypted at rest; read back as SecretStr so it never
    shows in reprs or logs. Ciphertext is longer than the plaintext: size `length` for it.
    """

    impl = Text()
    cache_ok = True

    def process_bind_param(self, value: SecretStr | str | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        if value is None:
            return None
        from siyu.kit.secrets import default_box  # noqa: PLC0415 - settings load lazily

        return default_box().encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> SecretStr | None:  # noqa: ARG002
        if value is None:
            return None
        from siyu.kit.secrets import default_box  # noqa: PLC0415 - settings load lazily

        return default_box().decrypt(str(value))
