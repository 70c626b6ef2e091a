import codecs
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from siyu.exceptions import ValidationFailed
from siyu.kit.tabular import ErrorFile, RowError, open_table, preview

HEADERS = ["订单编号", "买家会员名", "买家实际支付金额", "收货地址"]
ROWS = [
    ["1001", "张三", "￥1,299.00", "浙江省 杭州市 西湖区, 文三路 1 号"],
    ["1002", "李四", "12.50", "上海市 浦东新区\n张江路 2 号"],
]


def _write_csv(path: Path, encoding: str, rows: list[list[str]] | None = None) -> Path:
    lines = [HEADERS, *(rows if rows is not None else ROWS)]
    text = "".join(",".join(f'"{c}"' for c in line) + "\r\n" for line in lines)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_in_each_encoding_reads_the_same_headers_and_rows(
    tmp_path: Path, encoding: str, detected: str
) -> None:
    table = open_table(_write_csv(tmp_path / "orders.csv", encoding))

    assert table.encoding == detected
    assert table.format == "csv"
    assert table.headers == HEADERS
    assert list(table.iter_rows()) == ROWS


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "bom.csv", "utf-8-sig")

    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    assert open_table(path).headers[0] == "订单编号"


def test_gbk_text_after_a_megabyte_of_ascii_is_still_detected_as_gbk(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    ascii_rows = "".join(f"{i},plain\n" for i in range(200_000))
    path.write_bytes(f"id,name\n{ascii_rows}9,张三\n".encode("gbk"))

    table = open_table(path)

    assert table.encoding == "gb18030"
    assert list(table.iter_rows())[-1] == ["9", "张三"]


def test_xlsx_cells_become_export_like_strings(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADERS)
    sheet.append([1001, "张三", 1299.0, None])
    sheet.append([1002, "李四", 12.5, datetime(2024, 3, 1, 9, 30)])  # noqa: DTZ001 - cells are naive
    path = tmp_path / "orders.xlsx"
    workbook.save(path)

    table = open_table(path)

    assert table.format == "xlsx"
    assert table.encoding is None
    assert table.headers == HEADERS
    assert list(table.iter_rows()) == [
        ["1001", "张三", "1299", ""],
        ["1002", "李四", "12.5", "2024-03-01 09:30:00"],
    ]


def test_numbered_rows_are_spreadsheet_row_numbers_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("\n订单编号,金额\n1,2\n, \u3000\n,4\n3,4\n", encoding="utf-8")

    table = open_table(path)

    assert table.headers == ["订单编号", "金额"]
    assert list(table.iter_numbered()) == [(3, ["1", "2"]), (5, ["", "4"]), (6, ["3", "4"])]
    assert list(table.iter_numbered(skip=2)) == [(5, ["", "4"]), (6, ["3", "4"])]
    assert table.estimate_rows() == 4


def test_preview_returns_the_first_rows(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "p.csv", "utf-8", [[str(i), "x", "1", "a"] for i in range(50)])

    shown = preview(path, 20)

    assert shown.headers == HEADERS
    assert len(shown.rows) == 20
    assert shown.rows[0][0] == "0"
    assert shown.encoding == "utf-8"


def test_empty_file_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(ValidationFailed) as caught:
        open_table(path)
    assert caught.value.field == "file"


def test_broken_xlsx_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")

    with pytest.raises(ValidationFailed) as caught:
        open_table(path)
    assert caught.value.field == "file"


def test_error_file_has_bom_and_resumes_from_committed_size(tmp_path: Path) -> None:
    path = tmp_path / "errors.csv"
    with ErrorFile.open(path) as errors:
        errors.write([RowError(2, "订单编号", "missing")])
        committed = errors.size
        errors.write([RowError(9, "订单状态", "written after the last commit")])

    with ErrorFile.open(path, keep=committed) as errors:
        errors.write([RowError(3, "买家实际支付金额", "not an amount: 'abc'")])

    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    assert raw.decode("utf-8-sig").splitlines() == [
        "row,column,reason",
        "2,订单编号,missing",
        "3,买家实际支付金额,not an amount: 'abc'",
    ]
