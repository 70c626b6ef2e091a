"""`siyu staff`: create staff members and import them from a CSV/XLSX file."""

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.db.session import unit_of_work
from siyu.exceptions import SiyuError
from siyu.kit.tabular import open_table
from siyu.staff import importing, service
from siyu.staff.schemas import StaffIn
from siyu.workspace import service as workspace_service

staff_app = typer.Typer(help="staff members and departments", no_args_is_help=True)


def _fail(exc: SiyuError) -> None:
    err_console.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(1) from exc


@staff_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV or XLSX: 姓名,账号,手机,邮箱,部门,职位"
        ),
    ],
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create or update staff by 账号 (userid); departments ("华东大区/上海/徐汇店") as needed."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            ws = workspace_service.workspace_by_slug(session, workspace)
            result = importing.import_staff(session, ws.id, open_table(file))
    except SiyuError as exc:
        _fail(exc)
        return
    for row in result.rows:
        for issue in row.errors:
            err_console.print(f"row {row.row}, {issue.column}: {issue.message}", markup=False)
    console.print(
        f"{result.created} created, {result.updated} updated, {result.failed} failed, "
        f"{result.departments_created} department(s) created"
    )
    if result.failed:
        raise typer.Exit(2)


@staff_app.command("create")
def create_command(
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    name: Annotated[str, typer.Option(help="姓名")],
    userid: Annotated[str | None, typer.Option(help="WeCom userid (账号)")] = None,
    mobile: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    department: Annotated[
        str | None,
        typer.Option(help='department path, e.g. "华东大区/上海/徐汇店"; created as needed'),
    ] = None,
    position: Annotated[str | None, typer.Option(help="职位")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create one staff member."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            ws = workspace_service.workspace_by_slug(session, workspace)
            department_id = None
            if department:
                found, _ = service.ensure_department_path(session, ws.id, department)
                department_id = found.id
            staff = service.create_staff(
                session,
                ws.id,
                StaffIn(
                    name=name,
                    wecom_userid=userid,
                    mobile=mobile,
                    email=email,
                    position=position,
                    department_id=department_id,
                ),
            )
            console.print(f"staff member [bold]{staff.name}[/bold] created (id {staff.id})")
    except SiyuError as exc:
        _fail(exc)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        err_console.print(f"[red]error:[/red] {field}: {error['msg']}")
        raise typer.Exit(1) from exc
