"""`siyu import customers`: import a customer file in this process, with a progress bar."""

from pathlib import Path
from typing import Annotated

import typer

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.cli.imports import import_app, run_import
from siyu.customers.importing import (
    DEFAULT_CHUNK_ROWS,
    create_customer_import,
    run_customer_import,
)
from siyu.db.session import unit_of_work
from siyu.exceptions import SiyuError
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal


@import_app.command("customers")
def import_customers(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or XLSX")
    ],
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    chunk_rows: Annotated[int, typer.Option(min=1, help="rows per committed chunk")] = (
        DEFAULT_CHUNK_ROWS
    ),
    database_url: DatabaseUrl = None,
) -> None:
    """Import customers (姓名, 手机号, 邮箱, 会员号, unionid, 标签, custom fields …)."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            ws = workspace_service.workspace_by_slug(session, workspace)
            run = create_customer_import(
                session, Principal.system(ws.id), file, filename=file.name, chunk_rows=chunk_rows
            )
            workspace_id, import_id = ws.id, run.id
            console.print(
                f"importing [bold]{file.name}[/bold] ({run.encoding}, about {run.total_rows} rows)"
            )
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    run_import(
        engine,
        run_customer_import,
        workspace_id,
        import_id,
        chunk_rows=chunk_rows,
        matched="matched",
    )
