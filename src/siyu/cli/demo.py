"""`siyu demo`: migrate, load the demo brand 山茶集 once, print the login, serve."""

from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from sqlalchemy import Engine

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.config import Mode, get_settings
from siyu.db import migrate
from siyu.demo import data
from siyu.exceptions import SiyuError

if TYPE_CHECKING:
    from siyu.connectors.wecom_sim.server import SimServer
    from siyu.demo.loader import DemoLoad

STEP_LABELS = {
    "customers": "客户 customers",
    "follow relations": "添加关系 follow relations",
    "tags": "标签 tags",
    "orders": "订单 orders",
    "events": "行为 events",
}


def demo(
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="start web and worker afterwards")
    ] = True,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    customers: Annotated[
        int, typer.Option(min=10, help="how many demo customers a first load creates")
    ] = data.DEMO_CUSTOMERS,
    database_url: DatabaseUrl = None,
) -> None:
    """Load the demo workspace (once) and run Siyu on http://127.0.0.1:8000."""
    settings = get_settings()
    engine = open_engine(database_url)
    migrate.upgrade(engine)
    try:
        loaded = _load_with_progress(engine, customers)
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    base_url = f"http://{host or settings.host}:{port or settings.port}"
    console.print(_login_panel(loaded, base_url))
    if not serve:
        return
    from siyu.app import create_app  # noqa: PLC0415 - keep CLI start-up light
    from siyu.demo.wecom import SIM_HOST, SIM_PORT, start_simulator  # noqa: PLC0415

    callback_url = f"{base_url}/wecom/callback/{data.WORKSPACE_SLUG}"
    simulator: SimServer | None = None
    try:
        simulator = start_simulator(engine, loaded.workspace_id, callback_url)
        console.print(
            f"WeCom simulator (模拟企业微信) on {simulator.base_url} — "
            "live codes, scans and welcome messages run against it"
        )
    except OSError as exc:
        err_console.print(
            f"[yellow]WeCom simulator not started:[/yellow] {SIM_HOST}:{SIM_PORT} is taken ({exc})"
        )
    # The demo serves in demo mode: the login page offers the demo sign-in.
    demo_settings = settings.model_copy(update={"mode": Mode.DEMO})
    application = create_app(demo_settings, engine=engine, run_worker=True)
    try:
        uvicorn.run(
            application, host=host or settings.host, port=port or settings.port, log_level="info"
        )
    finally:
        if simulator is not None:
            simulator.stop()


def _load_with_progress(engine: Engine, customers: int) -> "DemoLoad":
    # The loader pulls in every domain's services; import it only when a demo is loaded.
    from siyu.demo.loader import load_demo  # noqa: PLC0415

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(STEP_LABELS.get(step, step), total=total)
            progress.update(tasks[step], completed=done, total=total)

        return load_demo(engine, customers=customers, progress=report)


def _login_panel(loaded: "DemoLoad", base_url: str) -> Panel:
    if loaded.api_key:
        key_line = f"API key   {loaded.api_key}\n          (shown only this once; store it now)"
    else:
        key_line = (
            "API key   shown only on the first run; make a new one with\n"
            f"          siyu apikey create --workspace {data.WORKSPACE_SLUG} --name mine"
        )
    state = "loaded" if loaded.created else "already loaded; nothing added"
    body = "\n".join(
        [
            f"demo workspace [bold]{data.BRAND_NAME}[/bold] ({data.WORKSPACE_SLUG}): {state}",
            "",
            f"URL       {base_url}",
            f"API docs  {base_url}/api/v1/docs",
            f"email     {loaded.email}",
            f"password  {loaded.password}",
            key_line,
            "",
            f'try:     curl -H "Authorization: Bearer <API key>" {base_url}/api/v1/customers',
        ]
    )
    return Panel(body, title="Siyu 私域 demo", expand=False)
