"""Read the tables people upload: CSV (UTF-8 with or without BOM, GBK/GB18030) and XLSX.

`open_table(path)` reads the header row and the encoding; `iter_rows()` streams the data
rows as lists of strings, so a million-row export never sits in memory. Row numbers in
error reports are spreadsheet row numbers: the header is row 1, the first data row is 2.
`ErrorFile` writes those per-row errors as a CSV that Excel opens (UTF-8 with BOM) and
can be truncated back to the last committed chunk when an import resumes.
"""

import codecs
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import IO, Any

from siyu.exceptions import SiyuError, ValidationFailed

XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
SNIFF_BYTES = 1 << 20
ZIP_MAGIC = b"PK\x03\x04"

# Exports carry long free-text cells (addresses, buyer messages).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _first_non_ascii_block(path: Path) -> bytes:
    """The first block that has a non-ASCII byte (ASCII decodes the same either way)."""
    with path.open("rb") as handle:
        while block := handle.read(SNIFF_BYTES):
            if not block.isascii():
                return block
    return b""


def detect_encoding(path: Path) -> str:
    """'utf-8-sig' (BOM), 'utf-8', or 'gb18030' (a superset of GBK) for CSV files."""
    with path.open("rb") as handle:
        if handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
            return "utf-8-sig"
    sample = _first_non_ascii_block(path)
    for encoding in ("utf-8", "gb18030"):
        try:
            # Incremental, so a character cut at the sample's end is not an error.
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ValidationFailed("file", "text is neither UTF-8 nor GBK/GB18030")


def _cell(value: Any) -> str:
    """An XLSX cell as the text the platform's CSV export would have had."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | time):
        return value.strftime("%Y-%m-%d %H:%M:%S" if isinstance(value, datetime) else "%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _is_blank(row: list[str]) -> bool:
    # A data row's first cell usually settles it (all() over a generator costs more).
    for cell in row:  # noqa: SIM110
        if cell and not cell.isspace():
            return False
    return True


@dataclass(frozen=True)
class Table:
    """An uploaded table: its header row and a way to stream the rows below it."""

    path: Path
    format: str  # "csv" | "xlsx"
    encoding: str | None  # None for XLSX
    headers: list[str]
    # Rows above the header (blank lines) plus the header itself.
    header_row: int

    def iter_rows(self, *, skip: int = 0) -> Iterator[list[str]]:
        """The data rows (blank ones included, as empty lists), after skipping `skip` rows."""
        rows = self._csv_rows() if self.format == "csv" else self._xlsx_rows()
        return islice(rows, self.header_row + skip, None)

    def iter_numbered(self, *, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) for each non-blank data row after `skip` rows."""
        number = self.header_row + skip
        for row in self.iter_rows(skip=skip):
            number += 1
            if row and not _is_blank(row):
                yield number, row

    def estimate_rows(self) -> int:
        """Data rows, counted fast (CSV: line breaks; XLSX: the sheet's stated dimension)."""
        if self.format == "xlsx":
            from openpyxl import load_workbook  # noqa: PLC0415 - only XLSX needs it

            workbook = load_workbook(self.path, read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                return max((sheet.max_row or 0) - self.header_row, 0)
            finally:
                workbook.close()
        lines = 0
        last = b"\n"
        with self.path.open("rb") as handle:
            while block := handle.read(SNIFF_BYTES):
                lines += block.count(b"\n")
                last = block[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - self.header_row, 0)

    def _csv_rows(self) -> Iterator[list[str]]:
        assert self.encoding is not None
        with self.path.open(encoding=self.encoding, newline="") as handle:
            try:
                yield from csv.reader(handle)
            except UnicodeDecodeError as exc:
                msg = f"the file is not valid {self.encoding} throughout (near byte {exc.start})"
                raise ValidationFailed("file", msg) from exc

    def _xlsx_rows(self) -> Iterator[list[str]]:
        from openpyxl import load_workbook  # noqa: PLC0415 - only XLSX needs it

        workbook = load_workbook(self.path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield [_cell(v) for v in values]
        finally:
            workbook.close()


def _is_xlsx(path: Path) -> bool:
    if path.suffix.lower() in XLSX_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(4) == ZIP_MAGIC


def open_table(path: Path | str, *, encoding: str | None = None) -> Table:
    """Open a CSV or XLSX file and read its header row (the first non-blank row).

    A CSV's encoding is detected unless given (e.g. the one detected at upload).
    """
    path = Path(path)
    if _is_xlsx(path):
        fmt, encoding = "xlsx", None
    else:
        fmt, encoding = "csv", encoding or detect_encoding(path)
    probe = Table(path, fmt, encoding, [], 0)
    try:
        for index, row in enumerate(probe.iter_rows()):
            if not _is_blank(row):
                headers = [cell.strip() for cell in row]
                while headers and not headers[-1]:
                    headers.pop()
                return Table(path, fmt, encoding, headers, index + 1)
    except SiyuError:
        raise
    except Exception as exc:  # any reader failure means the upload is not a readable table
        raise ValidationFailed("file", f"cannot read the file as {fmt.upper()}: {exc}") from exc
    raise ValidationFailed("file", "the file has no header row")


@dataclass(frozen=True)
class Preview:
    headers: list[str]
    rows: list[list[str]]
    encoding: str | None
    format: str


def preview(path: Path | str, n: int = 20) -> Preview:
    """The header and the first `n` non-blank data rows."""
    table = open_table(path)
    rows = [row for _, row in islice(table.iter_numbered(), n)]
    return Preview(table.headers, rows, table.encoding, table.format)


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str


class ErrorFile:
    """Per-row errors as CSV (row, column, reason); UTF-8 with BOM so Excel reads it.

    `size` is how many bytes belong to committed work; `open(path, keep=size)` drops
    anything written after that, so a resumed import does not report a row twice.
    """

    HEADER = ("row", "column", "reason")

    def __init__(self, handle: IO[str], path: Path) -> None:
        self._handle = handle
        self._writer = csv.writer(handle)
        self.path = path

    @classmethod
    def open(cls, path: Path, *, keep: int = 0) -> "ErrorFile":
        path.parent.mkdir(parents=True, exist_ok=True)
        if keep <= 0 or not path.exists():
            handle = path.open("w", encoding="utf-8-sig", newline="")
            csv.writer(handle).writerow(cls.HEADER)
        else:
            with path.open("r+b") as raw:
                raw.truncate(keep)
            handle = path.open("a", encoding="utf-8", newline="")
        return cls(handle, path)

    def write(self, errors: list[RowError]) -> None:
        self._writer.writerows((e.row, e.column, e.reason) for e in errors)

    @property
    def size(self) -> int:
        self._handle.flush()
        return self.path.stat().st_size

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "ErrorFile":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
