"""The import's parse stage: read the file and prepare its orders, chunk by chunk.

A large file is parsed in a process of its own, a few chunks ahead of the writer: parsing
is pure Python and would otherwise share one core (and the GIL) with the writes. Chunks
come back as prepared orders (tuples), which cross the process boundary cheaply.
"""

import gc
import pickle
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from siyu.commerce.prepared import BuyerMemo, PreparedOrder, prepare
from siyu.connectors.commerce.detect import format_for
from siyu.connectors.commerce.rows import NumberedRow, RowParser
from siyu.exceptions import SiyuError
from siyu.kit.tabular import RowError, open_table


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
    buyers = BuyerMemo()
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
                orders.append(prepare(order, buyers))
        yield PreparedChunk(orders, errors, failed, last_number)


@dataclass(frozen=True)
class _Failed:
    message: str
    expected: bool  # a SiyuError (the file or mapping), not a bug


_DONE = "done"
_GC_THRESHOLD = 50_000
# The child imports just this module (not the parent's __main__, as multiprocessing's
# spawn would: under `siyu worker` that is the whole CLI).
_CHILD = "from siyu.commerce.parsing import serve; serve()"


def serve() -> None:
    """The parse process: read (spec, skip, size) from stdin, write pickled chunks to stdout.

    Writing blocks while the pipe is full, so the parser stays about one chunk ahead of
    the writer reading them.
    """
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the stream
    # A chunk's ~500k objects live until it is sent; at the default threshold the cyclic
    # collector rescans them every 700 allocations (this process runs nothing else).
    gc.set_threshold(_GC_THRESHOLD, *gc.get_threshold()[1:])
    spec, skip, size = pickle.load(sys.stdin.buffer)  # noqa: S301 - from the parent
    try:
        for chunk in prepared_chunks(spec, skip=skip, size=size):
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
    except SiyuError as exc:
        last: object = _Failed(exc.message, expected=True)
    except Exception as exc:  # reported to the writer, which raises it
        last = _Failed(f"{type(exc).__name__}: {exc}", expected=False)
    else:
        last = _DONE
    pickle.dump(last, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


class ParseProcess:
    """A child process that parses an import's file; `chunks()` yields what it sends."""

    def __init__(self, spec: ParseSpec, *, skip: int, size: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdin is not None
        with self.process.stdin as stdin:
            pickle.dump((spec, skip, size), stdin)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def chunks(self) -> Generator[PreparedChunk, None, None]:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                item = _unpickled(stdout)
                if isinstance(item, _Failed):
                    if item.expected:
                        raise SiyuError(item.message)
                    raise RuntimeError(item.message)
                if item == _DONE:
                    return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        if self.running:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _unpickled(stream: IO[bytes]) -> Any:
    """The next item; the cyclic collector waits while a chunk's ~500k objects are
    unpickled (none of them can form a cycle), instead of rescanning them several times."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.load(stream)  # noqa: S301 - written by our own parse process
    except EOFError:
        msg = "the import's parse process ended unexpectedly"
        raise RuntimeError(msg) from None
    finally:
        if enabled:
            gc.enable()


def prepared_chunks_in_process(
    spec: ParseSpec, *, skip: int, size: int
) -> Generator[PreparedChunk, None, None]:
    """`prepared_chunks`, computed in a child process while the caller writes."""
    yield from ParseProcess(spec, skip=skip, size=size).chunks()
