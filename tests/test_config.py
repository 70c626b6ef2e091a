"""Settings: SIYU_* variables, .env, and refusing placeholder secrets in production."""

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from siyu.config import PLACEHOLDER_SECRET, Mode, Settings

STRONG = "k" * 48


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SIYU_MODE", "SIYU_SECRET_KEY", "SIYU_DATABASE_URL", "SIYU_SESSION_TTL_HOURS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory


def test_production_refuses_the_placeholder_secret_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="SIYU_SECRET_KEY"):
        Settings(mode="production")


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="SIYU_SECRET_KEY"):
        Settings(mode=Mode.PRODUCTION, secret_key=SecretStr("short-but-not-placeholder"))


def test_production_starts_with_a_strong_secret() -> None:
    settings = Settings(mode=Mode.PRODUCTION, secret_key=SecretStr(STRONG))
    assert settings.secret_key.get_secret_value() == STRONG


@pytest.mark.parametrize("mode", [Mode.DEV, Mode.DEMO])
def test_dev_and_demo_accept_the_placeholder(mode: Mode) -> None:
    assert Settings(mode=mode).secret_key.get_secret_value() == PLACEHOLDER_SECRET


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIYU_MODE", "production")
    monkeypatch.setenv("SIYU_SECRET_KEY", STRONG)
    monkeypatch.setenv("SIYU_SESSION_TTL_HOURS", "3")
    settings = Settings()
    assert (settings.mode, settings.session_ttl_hours) == (Mode.PRODUCTION, 3)


def test_environment_with_placeholder_in_production_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIYU_MODE", "production")
    with pytest.raises(ValidationError, match="SIYU_SECRET_KEY"):
        Settings()


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SIYU_MODE=production\nSIYU_SECRET_KEY={STRONG}\n")
    assert Settings().mode is Mode.PRODUCTION


def test_secret_key_never_shows_in_repr_or_dump() -> None:
    settings = Settings(mode=Mode.PRODUCTION, secret_key=SecretStr(STRONG))
    assert STRONG not in repr(settings)
    assert STRONG not in str(settings.model_dump())
    assert STRONG not in settings.model_dump_json()


def test_database_password_never_shows_in_repr() -> None:
    settings = Settings(database_url="postgresql://siyu:db-pass-123@db.internal/siyu")
    assert "db-pass-123" not in repr(settings)
