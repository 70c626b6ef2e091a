"""`siyu import orders` against the database under test."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from siyu.cli.main import app as cli
from siyu.db import session as db_session
from siyu.models import ImportRun, Order
from tests.conftest import WorkspaceFixture
from tests.connectors.commerce.samples import PDD, TMALL, Sample

runner = CliRunner()


@pytest.fixture
def cli_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # The CLI installs its own process engine; put the test engine back afterwards.
    monkeypatch.setattr(db_session, "_engine", db_session._engine)
    return database_url


def test_import_orders_detects_the_platform_and_imports_the_file(
    cli_url: str, db: Session, workspace: WorkspaceFixture, tmp_path: Path
) -> None:
    path = PDD.write(tmp_path, "gbk")

    result = runner.invoke(
        cli,
        ["import", "orders", str(path), "--workspace", workspace.slug, "--database-url", cli_url],
    )

    assert result.exit_code == 0, result.output
    assert "as pdd" in result.output
    assert "2 new, 0 updated, 0 rows not imported" in result.output
    ids = set(db.scalars(select(Order.platform_order_id).where(Order.workspace_id == workspace.id)))
    assert ids == {"240301-123456789", "240302-987654321"}
    run = db.scalar(select(ImportRun))
    assert run is not None
    assert (run.status, run.created_by) == ("succeeded", "system")


def test_import_orders_as_taobao_reports_row_errors_and_their_file(
    cli_url: str, db: Session, workspace: WorkspaceFixture, tmp_path: Path
) -> None:
    rows = [list(r) for r in TMALL.rows]
    rows[0][6] = "n/a"
    path = Sample("tmall", TMALL.headers, rows).write_xlsx(tmp_path / "淘宝订单.xlsx")

    result = runner.invoke(
        cli,
        [
            "import",
            "orders",
            str(path),
            "--workspace",
            workspace.slug,
            "--platform",
            "taobao",
            "--database-url",
            cli_url,
        ],
    )

    assert result.exit_code == 0, result.output
    assert "2 new, 0 updated, 1 rows not imported" in result.output
    assert "row errors" in result.output
    platforms = set(db.scalars(select(Order.platform)))
    assert platforms == {"taobao"}


def test_import_orders_of_an_unknown_layout_asks_for_the_platform(
    cli_url: str, workspace: WorkspaceFixture, tmp_path: Path
) -> None:
    path = tmp_path / "own.csv"
    path.write_text("单号,金额\n1,2\n", encoding="utf-8")

    result = runner.invoke(
        cli,
        ["import", "orders", str(path), "--workspace", workspace.slug, "--database-url", cli_url],
    )

    assert result.exit_code == 1
    assert "--platform" in result.output


def test_import_orders_into_an_unknown_workspace_fails(cli_url: str, tmp_path: Path) -> None:
    path = PDD.write(tmp_path, "utf-8")

    result = runner.invoke(
        cli, ["import", "orders", str(path), "--workspace", "nope", "--database-url", cli_url]
    )

    assert result.exit_code == 1
    assert "workspace not found" in result.output
