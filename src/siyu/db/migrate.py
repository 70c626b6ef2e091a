"""Run Alembic migrations programmatically (`siyu db upgrade`, demo, tests)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - CLI-only path

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def make_revision(url: str, message: str) -> None:
    """Autogenerate a revision against a database at head (developer command)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
