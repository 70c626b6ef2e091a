"""The order import pipeline: stream the file, parse, write and commit chunk by chunk.

A chunk is ~20,000 rows, cut only between orders (item rows of one order stay together).
A large file is parsed in a process of its own while this one writes (`parsing`). Each
chunk costs one OneID batch, one lookup of known orders and a few bulk statements
(`upserting`); then the resume point (rows consumed, counts, size of the error file) is
committed with the chunk's orders. A crashed import resumes after its last committed chunk.

The stats of customers who only gained new orders are recomputed once, when the file is
done (or the import fails), not chunk by chunk: an export names most buyers in several
chunks, and each update of a customer rewrites its row and the indexes on its stats.
"""

from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu.commerce.parsing import ParseSpec, prepared_chunks, prepared_chunks_in_process
from siyu.commerce.repository import CommerceRepository, batched
from siyu.commerce.service import recompute_customer_stats
from siyu.commerce.upserting import write_orders
from siyu.connectors.commerce.detect import format_for
from siyu.connectors.commerce.rows import RowParser
from siyu.db.bulk import fewer_gc_passes
from siyu.db.maintenance import StatisticsRefresher
from siyu.exceptions import NotFound, SiyuError
from siyu.kit.import_runs import outcome
from siyu.kit.tabular import ErrorFile, open_table
from siyu.kit.time import utcnow
from siyu.models import ImportRun

DEFAULT_CHUNK_ROWS = 20_000
# Customers whose stats are recomputed per transaction at the end of an import.
STATS_BATCH = 20_000
# Files with at least this many rows left are parsed in a process of their own (starting
# one costs about half a second).
PARSE_PROCESS_MIN_ROWS = 50_000
Progress = Callable[[int, int | None], None]
Checkpoint = Callable[[], None]


def errors_path_for(run: ImportRun) -> Path:
    return Path(f"{run.stored_path}.errors.csv")


def csv_encoding(run: ImportRun) -> str | None:
    """The encoding detected at upload; "xlsx" marks a workbook."""
    return run.encoding if run.encoding and run.encoding != "xlsx" else None


def parser_for(run: ImportRun, headers: list[str]) -> RowParser:
    if not run.platform:
        raise SiyuError("the import has no platform; set its mapping first")
    mapping = run.mapping or {}
    return RowParser(
        format_for(run.platform),
        headers,
        mapping.get("columns", {}),
        platform=run.platform,
        statuses=mapping.get("statuses", {}),
    )


def run_order_import(
    session: Session,
    workspace_id: int,
    import_id: int,
    *,
    progress: Progress,
    checkpoint: Checkpoint,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> dict[str, Any]:
    """Import (or resume importing) one uploaded order file; returns the final counts.

    A file that turns out unreadable or a mapping that no longer fits ends the run as
    failed; what earlier chunks imported stays.
    """
    repo = CommerceRepository(session, workspace_id)
    run = repo.import_run(import_id, for_update=True)
    if run is None or run.kind != "orders":
        raise NotFound("order import")
    if run.status not in {"succeeded", "failed"}:
        # Resuming: the stats of the customers of the chunks committed before are due too.
        pending = set(repo.import_customers(run.id)) if run.status == "running" else set()
        try:
            with fewer_gc_passes():
                _import(
                    session,
                    run,
                    pending,
                    progress=progress,
                    checkpoint=checkpoint,
                    chunk_rows=chunk_rows,
                )
        except SiyuError as exc:
            # Drop the unfinished chunk; committed chunks stay imported.
            session.rollback()
            run = repo.import_run(import_id, for_update=True)
            assert run is not None
            _recompute_stats(session, run.workspace_id, pending, checkpoint)
            run.status = "failed"
            run.message = exc.message[:1000]
            run.finished_at = utcnow()
    return outcome(run)


def _recompute_stats(
    session: Session, workspace_id: int, customer_ids: set[int], checkpoint: Checkpoint
) -> None:
    """Bring the stats of the import's customers up to date, a batch per transaction."""
    for batch in batched(sorted(customer_ids), STATS_BATCH):
        recompute_customer_stats(session, workspace_id, batch)
        checkpoint()


def _import(
    session: Session,
    run: ImportRun,
    pending: set[int],
    *,
    progress: Progress,
    checkpoint: Checkpoint,
    chunk_rows: int,
) -> None:
    table = open_table(run.stored_path, encoding=csv_encoding(run))
    parser = parser_for(run, table.headers)
    if run.status != "running":
        run.status = "running"
        run.total_rows = run.total_rows or table.estimate_rows()
    errors_path = errors_path_for(run)
    run.errors_path = str(errors_path)
    source = f"import:{run.id}"
    actor = run.created_by or "system"
    statistics = StatisticsRefresher(
        session, ["customer", "identity", "customer_order", "order_item", "refund", "product"]
    )
    spec = ParseSpec(
        run.stored_path,
        table.encoding,
        parser.platform.value,
        dict(parser.header_of),
        dict((run.mapping or {}).get("statuses", {})),
    )
    remaining = run.total_rows - run.processed_rows
    parse = prepared_chunks_in_process if remaining >= PARSE_PROCESS_MIN_ROWS else prepared_chunks
    chunks = parse(spec, skip=run.processed_rows, size=chunk_rows)
    # Closed on any way out, so a parse process never outlives the import.
    with ErrorFile.open(errors_path, keep=run.error_bytes) as error_file, closing(chunks):
        for chunk in chunks:
            result = write_orders(
                session,
                run.workspace_id,
                chunk.orders,
                source=source,
                actor=actor,
                import_run_id=run.id,
                deferred=pending,
            )
            error_file.write(chunk.errors)
            run.imported += result.imported
            run.updated += result.updated
            run.failed += chunk.failed
            run.processed_rows = chunk.last_number - table.header_row
            run.error_bytes = error_file.size
            progress(run.processed_rows, max(run.total_rows, run.processed_rows))
            checkpoint()
            statistics.wrote(len(chunk.orders))
    _recompute_stats(session, run.workspace_id, pending, checkpoint)
    run.status = "succeeded"
    run.total_rows = run.processed_rows
    run.finished_at = utcnow()
    run.message = None
    progress(run.processed_rows, run.total_rows)
