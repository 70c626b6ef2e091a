import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from siyu.cli.main import app as cli_app
from siyu.customers import custom_fields
from siyu.customers.custom_fields import FieldType
from siyu.exceptions import ValidationFailed
from siyu.models import Customer, Identity, ImportRun
from siyu.tags import service as tags_service
from tests.conftest import WorkspaceFixture

HEADER = ["姓名", "手机号", "邮箱", "性别", "生日", "省份", "城市", "标签", "会员号", "等级"]


def _csv(rows: list[list[str]], *, encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *rows])
    return buffer.getvalue().encode(encoding)


def _customers(db: Session, workspace_id: int) -> list[Customer]:
    db.expire_all()
    stmt = select(Customer).where(Customer.workspace_id == workspace_id).order_by(Customer.id)
    return list(db.scalars(stmt))


def _define_level(db: Session, workspace_id: int) -> None:
    custom_fields.create_field(
        db,
        workspace_id,
        key="level",
        label="等级",
        field_type=FieldType.CHOICE,
        options=["金", "银"],
    )
    db.commit()


def _upload(api: TestClient, content: bytes, name: str = "customers.csv") -> dict[str, object]:
    response = api.post("/api/v1/imports/customers", files={"file": (name, content)})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


def test_rows_become_customers_and_bad_rows_are_reported_by_column(
    api: TestClient, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    _define_level(db, workspace.id)
    content = _csv(
        [
            [
                "王小明",
                "13800138000",
                "wang@example.com",
                "男",
                "1990/5/1",
                "浙江",
                "杭州",
                "VIP,兴趣:跑步",
                "M001",
                "金",
            ],
            ["坏手机", "12345", "", "", "", "", "", "", "", ""],
            ["坏等级", "13900139000", "", "外星", "", "", "", "", "", "铜"],
            ["只有会员号", "", "", "女", "", "", "", "", "M002", ""],
            ["", "", "", "", "", "", "", "", "", ""],
        ],
        encoding="gb18030",
    )
    run = _upload(api, content)
    assert run["status"] == "queued"
    assert run_jobs() == 1

    shown = api.get(f"/api/v1/imports/{run['id']}").json()
    assert shown["status"] == "succeeded"
    assert (shown["imported"], shown["updated"], shown["failed"]) == (2, 0, 2)

    errors = api.get(f"/api/v1/imports/{run['id']}/errors")
    assert errors.status_code == 200
    rows = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    assert rows[0] == ["row", "column", "reason"]
    reported = {(r[0], r[1]) for r in rows[1:]}
    assert reported == {("3", "手机号"), ("4", "性别"), ("4", "等级")}

    customers = _customers(db, workspace.id)
    assert [c.name for c in customers] == ["王小明", "只有会员号"]
    wang = customers[0]
    assert wang.mobile == "+8613800138000"
    assert wang.gender == "male"
    assert wang.birthday == date(1990, 5, 1)
    assert (wang.province, wang.city) == ("浙江", "杭州")
    assert wang.custom_fields == {"level": "金"}
    kinds = set(db.scalars(select(Identity.kind).where(Identity.customer_id == wang.id)))
    assert kinds == {"mobile", "email", "store_member_no"}
    tags = {(t.group_name, t.tag_name) for t in tags_service.tags_of(db, workspace.id, wang.id)}
    assert tags == {("导入标签", "VIP"), ("兴趣", "跑步")}


def test_second_import_of_same_file_creates_no_duplicates(
    api: TestClient, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    content = _csv([["甲", "13800138000", "", "", "", "", "", "", "", ""]])
    _upload(api, content)
    run_jobs()
    second = _upload(api, content)
    run_jobs()
    shown = api.get(f"/api/v1/imports/{second['id']}").json()
    assert (shown["imported"], shown["updated"], shown["failed"]) == (0, 1, 0)
    assert len(_customers(db, workspace.id)) == 1


def test_a_row_that_fails_while_writing_leaves_nothing_behind(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object, **__: object) -> int:
        raise ValidationFailed("tag_ids", "refused for the test")

    # Tagging runs after the customer was written: the row's savepoint must undo both.
    monkeypatch.setattr(tags_service, "add_tags", refuse)
    content = _csv(
        [
            ["甲", "13800138000", "", "", "", "", "", "VIP", "", ""],
            ["乙", "13900139000", "", "", "", "", "", "", "", ""],
        ]
    )
    run = _upload(api, content)
    run_jobs()
    shown = api.get(f"/api/v1/imports/{run['id']}").json()
    assert (shown["imported"], shown["failed"]) == (1, 1)
    assert [c.name for c in _customers(db, workspace.id)] == ["乙"]
    assert db.scalars(select(Identity.value)).all() == ["+8613900139000"]


def test_overlong_tag_is_reported_on_the_tag_column(
    api: TestClient, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    content = _csv([["甲", "13800138000", "", "", "", "", "", "组" * 101 + ":x", "", ""]])
    run = _upload(api, content)
    run_jobs()
    errors = api.get(f"/api/v1/imports/{run['id']}/errors").content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(errors)))[1][:2] == ["2", "标签"]


def test_file_without_an_identifying_column_is_refused(api: TestClient) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["姓名", "备注"], ["甲", "x"]])
    response = api.post(
        "/api/v1/imports/customers", files={"file": ("c.csv", buffer.getvalue().encode())}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "file"


def test_xlsx_import_through_the_cli(
    db: Session, workspace: WorkspaceFixture, tmp_path: Path, database_url: str
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "mobile", "unionid"])
    sheet.append(["Amy", "13800138000", "u-1"])
    sheet.append(["Bob", "13900139000", "u-2"])
    path = tmp_path / "people.xlsx"
    book.save(path)

    result = CliRunner().invoke(
        cli_app,
        [
            "import",
            "customers",
            str(path),
            "--workspace",
            workspace.slug,
            "--database-url",
            database_url,
            "--chunk-rows",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output
    assert [c.name for c in _customers(db, workspace.id)] == ["Amy", "Bob"]
    run = db.scalars(select(ImportRun).where(ImportRun.workspace_id == workspace.id)).one()
    assert (run.kind, run.status, run.processed_rows) == ("customers", "succeeded", 2)
