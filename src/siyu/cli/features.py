"""`siyu features rebuild`: every customer's order windows and RFM scores, from the orders."""

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from siyu.analytics import features, rfm
from siyu.cli.common import DatabaseUrl, console, err_console, open_engine
from siyu.commerce import service as commerce_service
from siyu.db.session import unit_of_work
from siyu.events import counters
from siyu.exceptions import SiyuError
from siyu.segments import service as segments_service
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service

features_app = typer.Typer(help="customer features segments and RFM read", no_args_is_help=True)


@features_app.command("rebuild")
def rebuild(
    workspace: Annotated[str, typer.Option(help="workspace slug")],
    event_type: Annotated[
        list[str] | None,
        typer.Option("--event-type", help="also recount this event type's daily counters"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Recompute order stats, features, RFM, tag counts and bits (after rows were loaded past the
    services, e.g. by bench/generate.py)."""
    engine = open_engine(database_url)
    started = time.perf_counter()
    try:
        with unit_of_work(engine) as session:
            workspace_id = workspace_service.workspace_by_slug(session, workspace).id
            ranges = features.id_ranges(session, workspace_id)
            calendar = segments_service.context(session, workspace_id)
        with Progress(
            TextColumn("[bold]features"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} id ranges"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("features", total=len(ranges))
            for first, last in ranges:
                with unit_of_work(engine) as session:
                    ids = features.ids_between(session, workspace_id, first, last)
                    commerce_service.recompute_customer_stats(session, workspace_id, ids)
                    features.refresh_range(session, calendar, first, last)
                progress.advance(task)
        with unit_of_work(engine) as session:
            scored = rfm.score(session, calendar)
            tags_service.recount_tags(session, workspace_id)
            tags_service.rebuild_bits(session, workspace_id)
        for name in event_type or []:
            _recount_events(engine, workspace_id, name)
    except SiyuError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(
        f"features of {workspace}: {len(ranges)} id ranges, {scored.customers:,} customers "
        f"scored for RFM in {time.perf_counter() - started:.1f} s"
    )


def _recount_events(engine: Engine, workspace_id: int, event_type: str) -> None:
    after, events = 0, 0
    with console.status(f"counting {event_type} events") as status:
        while True:
            with unit_of_work(engine) as session:
                last = counters.recount_type(session, workspace_id, event_type, after)
            if last is None:
                break
            after = last
            events += counters.RECOUNT_CHUNK
            status.update(f"counting {event_type} events: about {events:,}")
    console.print(f"{event_type}: daily counters rebuilt")
