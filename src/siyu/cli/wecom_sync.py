"""`siyu wecom sync`: a full sync (or reconciliation) in this process, with a progress bar."""

import asyncio
import traceback
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.cli.wecom import wecom_app
from siyu.connectors.wecom import sync
from siyu.connectors.wecom.clients import client_for
from siyu.db.session import session_factory
from siyu.exceptions import Conflict, SiyuError
from siyu.kit.time import utcnow
from siyu.models import WecomSyncRun
from siyu.workspace import service as workspace_service

PHASE_LABELS = {
    "departments": "部门 departments",
    "members": "成员 members",
    "tags": "企业标签 corp tags",
    "contacts": "客户 customers",
    "groups": "客户群 groups",
    "finish": "核对 reconciling",
    "done": "完成 done",
}


def _claim_run(session: Session, workspace_id: int, kind: str) -> WecomSyncRun:
    """A new run, or the run a previous `siyu wecom sync` left unfinished (resumed)."""
    current = sync.running_run(session, workspace_id)
    if current is not None and current.job_id is None:
        return current
    return sync.new_run(session, workspace_id, kind)


async def _execute(session: Session, run: WecomSyncRun, bar: Progress) -> None:
    task = bar.add_task(PHASE_LABELS[run.phase], total=None)

    def commit() -> None:
        session.commit()
        bar.update(task, description=PHASE_LABELS.get(run.phase, run.phase))

    def progress(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    async with client_for(session, run.workspace_id) as client:
        await sync.Syncer(session, run, client, commit=commit, progress=progress).execute()


@wecom_app.command("sync")
def sync_command(
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    kind: Annotated[
        Literal["full", "reconcile"], typer.Option(help="full sync or reconciliation")
    ] = "full",
    database_url: DatabaseUrl = None,
) -> None:
    """Sync departments, staff, corp tags, customers and groups from WeCom now.

    Commits after every page; run it again after an interruption and it resumes.
    """
    engine = open_engine(database_url)
    session = session_factory(engine)()
    try:
        ws = workspace_service.workspace_by_slug(session, workspace)
        run = _claim_run(session, ws.id, kind)
        run.status = "running"
        session.commit()
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        try:
            with Progress(*columns, console=console) as bar:
                asyncio.run(_execute(session, run, bar))
        except Exception as exc:
            session.rollback()
            run.error = "".join(traceback.format_exception_only(exc)).strip()[:4000]
            session.commit()
            raise
    except Conflict as exc:
        err_console.print(f"[red]error:[/red] {exc.message} (run {exc.details.get('run_id')})")
        raise typer.Exit(1) from exc
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        session.close()
    counts = ", ".join(f"{name} {value}" for name, value in sorted(run.counts.items()))
    fixes = ", ".join(f"{name} {value}" for name, value in sorted(run.fixes.items())) or "none"
    console.print(f"同步完成 sync {run.status} at {utcnow():%H:%M:%S}: read {counts}")
    console.print(f"changes made: {fixes}")
