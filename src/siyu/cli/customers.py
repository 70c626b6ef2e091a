"""`siyu import customers`: import a customer file in this process, with a progress bar."""

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.cli.imports import import_app
from siyu.customers.importing import (
    DEFAULT_CHUNK_ROWS,
    create_customer_import,
    run_customer_import,
)
from siyu.db.session import session_factory, unit_of_work
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

                result = run_customer_import(
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
        f"import {result['status']}: {result['imported']} new, {result['updated']} matched, "
        f"{result['failed']} rows not imported"
    )
    if result["failed"]:
        console.print(f"row errors (row, column, reason): {result['errors_path']}")
    if result["status"] != "succeeded":
        err_console.print(f"[red]error:[/red] {result['message']}")
        raise typer.Exit(1)
