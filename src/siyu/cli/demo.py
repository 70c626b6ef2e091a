"""`siyu demo`: migrate, load the demo brand 山茶集 once, print the login, serve with
the simulated WeCom corp, the demo mailbox and the SMS simulator running beside it.
`siyu demo --mail` lists what the demo mailbox received."""

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from sqlalchemy import Engine

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.config import Mode, Settings, get_settings
from siyu.db import migrate
from siyu.demo import data
from siyu.exceptions import SiyuError

if TYPE_CHECKING:
    from siyu.demo.loader import DemoLoad

MAIL_LISTED = 20
STEP_LABELS = {
    "customers": "客户 customers",
    "follow relations": "添加关系 follow relations",
    "tags": "标签 tags",
    "orders": "订单 orders",
    "events": "行为 events",
    "broadcasts": "群发 broadcasts",
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
    mail: Annotated[
        bool, typer.Option("--mail", help="list the newest emails the demo mailbox received")
    ] = False,
) -> None:
    """Load the demo workspace (once) and run Siyu on http://127.0.0.1:8000."""
    settings = get_settings()
    if mail:
        _list_mail(settings.data_dir)
        return
    engine = open_engine(database_url)
    migrate.upgrade(engine)
    try:
        loaded = _load_with_progress(engine, customers)
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    base_url = f"http://{host or settings.host}:{port or settings.port}"
    console.print(_login_panel(loaded, base_url, settings.data_dir))
    if not serve:
        return
    from siyu.app import create_app  # noqa: PLC0415 - keep CLI start-up light

    # The demo serves in demo mode: the login page offers the demo sign-in.
    demo_settings = settings.model_copy(update={"mode": Mode.DEMO})
    application = create_app(demo_settings, engine=engine, run_worker=True)
    with ExitStack() as running:
        _start_simulators(running, engine, loaded.workspace_id, base_url, demo_settings)
        uvicorn.run(
            application, host=host or settings.host, port=port or settings.port, log_level="info"
        )


def _start_simulators(
    running: ExitStack, engine: Engine, workspace_id: int, base_url: str, settings: Settings
) -> None:
    """The WeCom simulator, the demo mailbox and the SMS simulator, each stopped when the demo
    stops; one whose port is taken is left out with a warning and the demo goes on. The
    simulators call back the demo server at `base_url`: WeCom events, SMS receipts and
    replies."""
    from siyu.demo import channels  # noqa: PLC0415 - the simulators load only for a demo
    from siyu.demo.wecom import SIM_HOST, SIM_PORT, start_simulator  # noqa: PLC0415
    from siyu.messaging.receipts import receipt_urls  # noqa: PLC0415

    callback_url = f"{base_url}/wecom/callback/{data.WORKSPACE_SLUG}"
    try:
        wecom = start_simulator(engine, workspace_id, callback_url)
        running.callback(wecom.stop)
        console.print(
            f"WeCom simulator (模拟企业微信) on {wecom.base_url} — live codes, scans, welcome "
            "messages and staff confirming broadcasts run against it"
        )
    except OSError as exc:
        _not_started("WeCom simulator", f"{SIM_HOST}:{SIM_PORT}", exc)
    mail_dir = channels.mail_directory(settings.data_dir).resolve()
    try:
        sink = channels.start_mail_sink(mail_dir)
        running.callback(sink.stop)
        console.print(
            f"demo mailbox (演示邮箱) on smtp://{sink.host}:{sink.port} — every email the demo "
            f"sends is kept in {mail_dir}; list it with `siyu demo --mail`"
        )
    except OSError as exc:
        _not_started("demo mailbox", f"{channels.MAIL_HOST}:{channels.MAIL_PORT}", exc)
    try:
        urls = receipt_urls(settings.model_copy(update={"base_url": base_url}), workspace_id)
        sms = channels.start_sms_simulator(urls.report_url, urls.uplink_url)
        running.callback(sms.stop)
        console.print(
            f"Aliyun SMS simulator (模拟阿里云短信) on {sms.base_url} — sent SMS: "
            f"{sms.base_url}/control/messages; delivery reports and replies come back to the demo"
        )
    except OSError as exc:
        _not_started("SMS simulator", f"{channels.SMS_HOST}:{channels.SMS_PORT}", exc)


def _not_started(what: str, address: str, exc: OSError) -> None:
    err_console.print(f"[yellow]{what} not started:[/yellow] {address} is taken ({exc})")


def _list_mail(data_dir: Path) -> None:
    """The newest emails in the demo mailbox, as `siyu demo --mail` shows them."""
    from siyu.connectors.smtp.sink import list_messages  # noqa: PLC0415
    from siyu.demo.channels import mail_directory  # noqa: PLC0415

    directory = mail_directory(data_dir).resolve()
    messages = list_messages(directory, limit=MAIL_LISTED)
    if not messages:
        console.print(f"no mail in {directory} yet: send an email broadcast in the demo")
        return
    table = Table("received", "to", "subject", "preview", title=f"demo mailbox {directory}")
    for message in messages:
        table.add_row(message["date"], message["to"], message["subject"], message["preview"])
    console.print(table)
    console.print(f"each message is an .eml file in {directory}, by id: <id>.eml")


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


def _login_panel(loaded: "DemoLoad", base_url: str, data_dir: Path) -> Panel:
    from siyu.demo import channels  # noqa: PLC0415
    from siyu.demo.loader import DEMO_VERSION  # noqa: PLC0415
    from siyu.demo.wecom import SIM_HOST, SIM_PORT  # noqa: PLC0415

    if loaded.api_key:
        key_line = f"API key   {loaded.api_key}\n          (shown only this once; store it now)"
    else:
        key_line = (
            "API key   shown only on the first run; make a new one with\n"
            f"          siyu apikey create --workspace {data.WORKSPACE_SLUG} --name mine"
        )
    state = "loaded" if loaded.created else "already loaded; nothing added"
    if loaded.version < DEMO_VERSION:
        state += (
            "\n[yellow]loaded by an older Siyu: to see this version's demo (email, SMS,"
            "\nmaterials, past broadcasts), delete the database and run it again[/yellow]"
        )
    sms = f"http://{channels.SMS_HOST}:{channels.SMS_PORT}"
    mail = f"smtp://{channels.MAIL_HOST}:{channels.MAIL_PORT}"
    mail_dir = channels.mail_directory(data_dir).resolve()
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
            "",
            "simulators (running while `siyu demo` serves):",
            f"WeCom     http://{SIM_HOST}:{SIM_PORT}  (模拟企业微信)",
            f"SMS       {sms}  (模拟阿里云短信)",
            f"          sent SMS: {sms}/control/messages",
            f"mailbox   {mail}  (演示邮箱): `siyu demo --mail`",
            f"          files: {mail_dir}",
        ]
    )
    return Panel(body, title="Siyu 私域 demo", expand=False)
