"""What every CLI command shares: the database option and console output."""

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from siyu.config import get_settings
from siyu.db.engine import build_engine
from siyu.db.session import set_engine

console = Console()
err_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="SIYU_DATABASE_URL", help="defaults to SIYU_DATABASE_URL"
    ),
]


def open_engine(url: str | None) -> Engine:
    engine = build_engine(url or get_settings().database_url)
    set_engine(engine)
    return engine
