"""The order import pipeline: stream the file, parse, upsert and commit chunk by chunk.

A chunk is ~20,000 rows, cut only between orders (item rows of one order stay together).
Each chunk costs one OneID batch, one lookup of known orders and a few bulk statements;
then the resume point (rows consumed, counts, size of the error file) is committed with
the chunk's orders. A crashed import resumes after its last committed chunk.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from siyu.commerce.repository import CommerceRepository
from siyu.commerce.schemas import OrderRecord
from siyu.commerce.service import upsert_orders
from siyu.connectors.commerce.detect import format_for
from siyu.connectors.commerce.rows import NumberedRow, RowParser
from siyu.db.bulk import fewer_gc_passes
from siyu.db.maintenance import StatisticsRefresher
from siyu.exceptions import NotFound, SiyuError
from siyu.kit.import_runs import outcome
from siyu.kit.tabular import ErrorFile, RowError, open_table
from siyu.kit.time import utcnow
from siyu.models import ImportRun

DEFAULT_CHUNK_ROWS = 20_000
Progress = Callable[[int, int | None], None]
Checkpoint = Callable[[], None]
T = TypeVar("T")


def errors_path_for(run: ImportRun) -> Path:
    return Path(f"{run.stored_path}.errors.csv")


def chunks(
    rows: Iterator[NumberedRow], parser: RowParser, size: int
) -> Iterator[tuple[list[list[NumberedRow]], int]]:
    """(orders' row groups, last spreadsheet row number) per chunk of about `size` rows."""
    item_rows = parser.fmt.item_rows
    groups: dict[str, list[NumberedRow]] = {}
    count = 0
    last_key = ""
    last_number = 0
    for number, row in rows:
        key = parser.order_key(row) if item_rows else ""
        if count >= size and (not item_rows or key != last_key):
            yield list(groups.values()), last_number
            groups = {}
            count = 0
        if key:
            groups.setdefault(key, []).append((number, row))
        else:
            groups[f"#{number}"] = [(number, row)]
        count += 1
        last_key = key
        last_number = number
    if groups:
        yield list(groups.values()), last_number


@dataclass(frozen=True)
class ParsedChunk:
    orders: list[OrderRecord]
    errors: list[RowError]
    failed: int  # rows of orders not imported
    last_number: int  # spreadsheet row number of the chunk's last row


def parsed_chunks(
    source: Iterator[tuple[list[list[NumberedRow]], int]], parser: RowParser
) -> Iterator[ParsedChunk]:
    """Each chunk's orders, and the errors of the orders that could not be built."""
    for groups, last_number in source:
        orders: list[OrderRecord] = []
        errors: list[RowError] = []
        failed = 0
        for group in groups:
            order, problems = parser.parse(group)
            if order is None:
                errors.extend(problems)
                failed += len(group)
            else:
                orders.append(order)
        yield ParsedChunk(orders, errors, failed, last_number)


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items, each next one produced in a worker thread while the caller handles the
    current one: reading and parsing a chunk overlaps the database writing the previous
    one (the driver releases the GIL while it waits)."""
    with ThreadPoolExecutor(1, thread_name_prefix="import-read-ahead") as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


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
        try:
            with fewer_gc_passes():
                _import(
                    session, run, progress=progress, checkpoint=checkpoint, chunk_rows=chunk_rows
                )
        except SiyuError as exc:
            # Drop the unfinished chunk; committed chunks stay imported.
            session.rollback()
            run = repo.import_run(import_id, for_update=True)
            assert run is not None
            run.status = "failed"
            run.message = exc.message[:1000]
            run.finished_at = utcnow()
    return outcome(run)


def _import(
    session: Session,
    run: ImportRun,
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
    with ErrorFile.open(errors_path, keep=run.error_bytes) as error_file:
        rows = table.iter_numbered(skip=run.processed_rows)
        for chunk in read_ahead(parsed_chunks(chunks(rows, parser, chunk_rows), parser)):
            result = upsert_orders(
                session,
                run.workspace_id,
                chunk.orders,
                source=source,
                actor=actor,
                import_run_id=run.id,
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
    run.status = "succeeded"
    run.total_rows = run.processed_rows
    run.finished_at = utcnow()
    run.message = None
    progress(run.processed_rows, run.total_rows)
