"""`siyu import …`: import files in this process, with a progress bar."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.commerce import imports
from siyu.commerce.importing import DEFAULT_CHUNK_ROWS, parser_for, run_order_import
from siyu.connectors.commerce import Platform
from siyu.db.session import session_factory, unit_of_work
from siyu.exceptions import SiyuError
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

import_app = typer.Typer(help="import orders and customers from files", no_args_is_help=True)


@import_app.command("orders")
def import_orders(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or XLSX")
    ],
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    platform: Annotated[
        Platform | None, typer.Option(help="the file's platform; detected when omitted")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="rows per committed chunk")] = (
        DEFAULT_CHUNK_ROWS
    ),
    database_url: DatabaseUrl = None,
) -> None:
    """Import an order export (Tmall/Taobao, JD, PDD, Youzan, Douyin or the generic template)."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            ws = workspace_service.workspace_by_slug(session, workspace)
            shown = imports.create_order_import(
                session, Principal.system(ws.id), file, filename=file.name, platform=platform
            )
            run = shown.run
            if run.platform is None:
                err_console.print(
                    "[red]error:[/red] cannot tell which platform this file comes from; "
                    "pass --platform"
                )
                raise typer.Exit(1)
            parser_for(run, shown.headers)
            workspace_id, import_id = ws.id, run.id
            console.print(
                f"importing [bold]{file.name}[/bold] as {run.platform} "
                f"({run.encoding}, about {run.total_rows} rows)"
            )
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    run_import(engine, run_order_import, workspace_id, import_id, chunk_rows=chunk_rows)


ImportRunner = Callable[..., dict[str, Any]]


def run_import(
    engine: Engine,
    runner: ImportRunner,
    workspace_id: int,
    import_id: int,
    *,
    chunk_rows: int,
    matched: str = "updated",
) -> None:
    """Run an uploaded import in this process, committing per chunk, with a progress bar."""
    try:
        session = session_factory(engine)()
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        try:
            with Progress(*columns, console=console) as bar:
                task = bar.add_task("rows", total=None)

                def report(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                result = runner(
                    session,
                    workspace_id,
                    import_id,
                    progress=report,
                    checkpoint=session.commit,
                    chunk_rows=chunk_rows,
                )
            session.commit()
        finally:
            session.close()
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(
        f"import {result['status']}: {result['imported']} new, {result['updated']} {matched}, "
        f"{result['failed']} rows not imported"
    )
    if result["failed"]:
        console.print(f"row errors (row, column, reason): {result['errors_path']}")
    if result["status"] != "succeeded":
        err_console.print(f"[red]error:[/red] {result['message']}")
        raise typer.Exit(1)
