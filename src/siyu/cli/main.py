"""The `siyu` command."""

import logging
import os
import signal
import time
from typing import Annotated, Any

import typer
import uvicorn

import siyu.cli.customers  # noqa: F401 - adds `siyu import customers` to import_app
from siyu.cli import wecom_sync as _wecom_sync  # noqa: F401 - adds `siyu wecom sync`
from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.cli.demo import demo
from siyu.cli.features import features_app
from siyu.cli.imports import import_app
from siyu.cli.sms_sim import sms_sim
from siyu.cli.staff import staff_app
from siyu.cli.wecom import wecom_app
from siyu.cli.wecom_sim import wecom_sim
from siyu.config import get_settings
from siyu.db import migrate
from siyu.db.session import unit_of_work
from siyu.exceptions import SiyuError
from siyu.worker.runner import WorkerPool
from siyu.worker.schedules import ensure_installation_schedules
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

app = typer.Typer(help="Siyu (私域) SCRM", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="database schema", no_args_is_help=True)
workspace_app = typer.Typer(help="workspaces (tenants)", no_args_is_help=True)
user_app = typer.Typer(help="console users", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(features_app, name="features")
app.add_typer(workspace_app, name="workspace")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(import_app, name="import")
app.add_typer(staff_app, name="staff")
app.add_typer(wecom_app, name="wecom")
app.command("demo")(demo)
app.command("wecom-sim")(wecom_sim)
app.command("sms-sim")(sms_sim)


def _fail(exc: SiyuError) -> None:
    err_console.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(1) from exc


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Migrate the database to the newest schema."""
    engine = open_engine(database_url)
    migrate.upgrade(engine)
    console.print(f"database at revision [bold]{migrate.current_revision(engine)}[/bold]")


@workspace_app.command("create")
def workspace_create(
    slug: Annotated[str, typer.Argument(help="short id used in URLs, e.g. acme")],
    name: Annotated[str, typer.Option(help="display name")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create a workspace (one brand, one WeCom corp)."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            workspace = workspace_service.create_workspace(session, slug=slug, name=name)
            console.print(f"workspace [bold]{workspace.slug}[/bold] created (id {workspace.id})")
    except SiyuError as exc:
        _fail(exc)


@user_app.command("create")
def user_create(
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()] = Role.OPERATOR,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a console user with a role in a workspace."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            ws = workspace_service.workspace_by_slug(session, workspace)
            workspace_service.create_user(
                session, workspace_id=ws.id, email=email, name=name, password=password, role=role
            )
            console.print(f"user [bold]{email}[/bold] is {role.value} in {workspace}")
    except SiyuError as exc:
        _fail(exc)


@apikey_app.command("create")
def apikey_create(
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    name: Annotated[str, typer.Option(help="what the key is for")],
    role: Annotated[Role, typer.Option()] = Role.OPERATOR,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; it is shown once and stored only as a hash."""
    engine = open_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            ws = workspace_service.workspace_by_slug(session, workspace)
            created = workspace_service.issue_api_key(
                session, Principal.system(ws.id), name=name, role=role
            )
            console.print("API key (shown once, store it now):")
            console.print(created.plaintext, markup=False, highlight=False)
    except SiyuError as exc:
        _fail(exc)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="run a worker in-process")
    ] = True,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="web processes (the worker runs once)")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="log every request")
    ] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the web process (API, console, callbacks), with an in-process worker by default."""
    from siyu.app import serving_app, start_worker_pool  # noqa: PLC0415 - keep CLI start-up light

    settings = get_settings()
    engine = open_engine(database_url)
    migrate.upgrade(engine)
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": "info",
        "access_log": access_log,
    }
    if workers == 1:
        uvicorn.run(serving_app(settings, engine=engine, run_worker=worker), **options)
        return
    # Each web process builds its own app from the environment; the worker runs here, in
    # the process that supervises them, so there is one whatever their number.
    os.environ["SIYU_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    os.environ["SIYU_WORKER_IN_PROCESS"] = "false"
    pool = start_worker_pool(engine, settings) if worker else None
    try:
        uvicorn.run("siyu.app:serving_app", factory=True, workers=workers, **options)
    finally:
        if pool is not None:
            pool.stop()


@app.command("worker")
def worker_command(
    concurrency: Annotated[
        int | None, typer.Option(help="default-lane runner threads (the realtime lane has its own)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run background jobs until interrupted."""
    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    engine = open_engine(database_url)
    with unit_of_work(engine) as session:
        ensure_installation_schedules(session, settings)
    pool = WorkerPool(
        engine,
        concurrency=concurrency or settings.worker_concurrency,
        realtime_concurrency=settings.worker_realtime_concurrency,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.worker_poll_seconds,
    )
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    pool.start()
    lanes = ", ".join(str(runner.lane) for runner in pool.runners)
    console.print(f"worker running with {len(pool.runners)} runner(s) ({lanes}); Ctrl-C to stop")
    while not stopping:
        time.sleep(0.5)
    pool.stop()
