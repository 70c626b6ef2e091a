"""`siyu wecom check`: the WeCom preflight from the command line."""

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.config import get_settings
from siyu.connectors.wecom.connection import callback_url
from siyu.connectors.wecom.preflight import PreflightReport, run_preflight
from siyu.db.session import unit_of_work
from siyu.exceptions import SiyuError
from siyu.workspace import service as workspace_service

wecom_app = typer.Typer(help="WeCom connection", no_args_is_help=True)

STATUS_STYLE = {"ok": "[green]通过 ok[/green]", "failed": "[red]失败 failed[/red]"}


def _table(report: PreflightReport) -> Table:
    table = Table(title="企业微信检查 WeCom preflight", show_lines=True)
    table.add_column("检查项 Check")
    table.add_column("结果 Status")
    table.add_column("说明 Message")
    table.add_column("处理方法 Fix")
    for check in report.checks:
        table.add_row(
            f"{check.title}\n{check.title_en}",
            STATUS_STYLE.get(check.status, "[dim]跳过 skipped[/dim]"),
            check.message,
            check.fix or "",
        )
    return table


@wecom_app.command("check")
def check_command(
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    outbound_ip: Annotated[
        str | None, typer.Option(help="this server's outbound IP, if known (for 企业可信IP)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Check the workspace's WeCom setup; exits 1 when a check failed."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            ws = workspace_service.workspace_by_slug(session, workspace)
            url = callback_url(get_settings().base_url, ws.slug)
            report = asyncio.run(
                run_preflight(session, ws.id, callback_url=url, outbound_ip=outbound_ip)
            )
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(_table(report))
    if not report.ok:
        raise typer.Exit(1)
