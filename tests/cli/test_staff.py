"""`siyu staff` against a SQLite file of its own, as an operator would run it."""

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from siyu.cli.main import app as cli
from siyu.db import session as db_session
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.models import Department, Staff

runner = CliRunner()


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # The CLI installs its own process engine; put the previous one back afterwards.
    monkeypatch.setattr(db_session, "_engine", db_session._engine)
    monkeypatch.delenv("SIYU_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for args in (["db", "upgrade"], ["workspace", "create", "acme", "--name", "山茶集"]):
        result = runner.invoke(cli, [*args, "--database-url", url])
        assert result.exit_code == 0, result.output
    return url


def test_staff_create_and_import_fill_staff_and_departments(
    database_file: str, tmp_path: Path
) -> None:
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text(
        "姓名,账号(userid),手机,邮箱,部门,职位\n"
        "李雷,lilei,13900139000,,华东大区/上海/徐汇店,导购\n"
        "韩梅梅,,,,,\n",
        encoding="utf-8-sig",
    )
    url = ["--database-url", database_file]

    created = runner.invoke(
        cli,
        [
            "staff",
            "create",
            "--workspace",
            "acme",
            "--name",
            "王芳",
            "--userid",
            "wangfang",
            "--department",
            "华东大区/上海",
            *url,
        ],
    )
    imported = runner.invoke(cli, ["staff", "import", str(csv_file), "--workspace", "acme", *url])

    assert created.exit_code == 0, created.output
    assert "王芳" in created.output
    assert imported.exit_code == 2  # one row failed
    assert "1 created, 0 updated, 1 failed" in imported.output
    assert "row 3, 账号: required" in imported.output
    engine = build_engine(database_file)
    try:
        with unit_of_work(engine) as session:
            staff = dict(session.execute(select(Staff.wecom_userid, Staff.mobile)).all())
            departments = session.scalars(select(Department.name)).all()
    finally:
        engine.dispose()
    assert staff == {"wangfang": None, "lilei": "+8613900139000"}
    assert sorted(departments) == sorted(["华东大区", "上海", "徐汇店"])


def test_staff_create_reports_rule_violations(database_file: str) -> None:
    result = runner.invoke(
        cli,
        [
            "staff",
            "create",
            "--workspace",
            "acme",
            "--name",
            "王芳",
            "--mobile",
            "12",
            "--database-url",
            database_file,
        ],
    )

    assert result.exit_code == 1
    assert "mobile" in result.output
