"""The import's parse stage: read the file and prepare its orders, chunk by chunk.

A large file is parsed in a process of its own, a few chunks ahead of the writer: parsing
is pure Python and would otherwise share one core (and the GIL) with the writes. Chunks
come back as prepared orders (tuples), which cross the process boundary cheaply.
"""

import gc
import multiprocessing
import queue
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Any

from siyu.commerce.prepared import PreparedOrder, prepare
from siyu.connectors.commerce.detect import format_for
from siyu.connectors.commerce.rows import NumberedRow, RowParser
from siyu.exceptions import SiyuError
from siyu.kit.tabular import RowError, open_table

# Chunks the parse process may hold ready for the writer (bounds its memory).
CHUNKS_AHEAD = 2
_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ParseSpec:
    """What the parse stage needs to know about an import; plain data, so it pickles."""

    path: str
    encoding: str | None
    platform: str
    columns: dict[str, str]
    statuses: dict[str, str] = field(default_factory=dict)

    def parser(self, headers: list[str]) -> RowParser:
        return RowParser(
            format_for(self.platform),
            headers,
            self.columns,
            platform=self.platform,
            statuses=self.statuses,
        )


@dataclass(frozen=True)
class PreparedChunk:
    orders: list[PreparedOrder]
    errors: list[RowError]
    failed: int  # rows of orders not imported
    last_number: int  # spreadsheet row number of the chunk's last row


def chunks(
    rows: Iterator[NumberedRow], parser: RowParser, size: int
) -> Iterator[tuple[list[list[NumberedRow]], int]]:
    """(orders' row groups, last spreadsheet row number) per chunk of about `size` rows,
    cut only between orders (item rows of one order stay together)."""
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


def prepared_chunks(
    spec: ParseSpec, *, skip: int, size: int
) -> Generator[PreparedChunk, None, None]:
    """Each chunk's prepared orders, and the errors of the orders that could not be built."""
    table = open_table(spec.path, encoding=spec.encoding)
    parser = spec.parser(table.headers)
    for groups, last_number in chunks(table.iter_numbered(skip=skip), parser, size):
        orders: list[PreparedOrder] = []
        errors: list[RowError] = []
        failed = 0
        for group in groups:
            order, problems = parser.parse(group)
            if order is None:
                errors.extend(problems)
                failed += len(group)
            else:
                orders.append(prepare(order))
        yield PreparedChunk(orders, errors, failed, last_number)


@dataclass(frozen=True)
class _Failed:
    message: str
    expected: bool  # a SiyuError (the file or mapping), not a bug


_DONE = "done"


def _produce(spec: ParseSpec, skip: int, size: int, out: "Queue[Any]") -> None:
    try:
        for chunk in prepared_chunks(spec, skip=skip, size=size):
            out.put(chunk)
    except SiyuError as exc:
        out.put(_Failed(exc.message, expected=True))
    except Exception as exc:  # reported to the writer, which raises it
        out.put(_Failed(f"{type(exc).__name__}: {exc}", expected=False))
    else:
        out.put(_DONE)


def can_parse_in_process() -> bool:
    """A daemonic process (some process pools run jobs in one) may not start children."""
    return not multiprocessing.current_process().daemon


def _unpickled(out: "Queue[Any]") -> Any:
    """The next item; the cyclic collector waits while a chunk's ~500k objects are
    unpickled (none of them can form a cycle), instead of rescanning them several times."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return out.get(timeout=_POLL_SECONDS)
    finally:
        if enabled:
            gc.enable()


def prepared_chunks_in_process(
    spec: ParseSpec, *, skip: int, size: int
) -> Generator[PreparedChunk, None, None]:
    """`prepared_chunks`, computed in a child process while the caller writes."""
    context = multiprocessing.get_context("spawn")
    out: Queue[Any] = context.Queue(maxsize=CHUNKS_AHEAD)
    process = context.Process(
        target=_produce, args=(spec, skip, size, out), name="siyu-import-parse", daemon=True
    )
    process.start()
    try:
        while True:
            try:
                item = _unpickled(out)
            except queue.Empty:
                if not process.is_alive():
                    msg = f"the import's parse process ended unexpectedly ({process.exitcode})"
                    raise RuntimeError(msg) from None
                continue
            if isinstance(item, str):
                return
            if isinstance(item, _Failed):
                if item.expected:
                    raise SiyuError(item.message)
                raise RuntimeError(item.message)
            yield item
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        out.close()
