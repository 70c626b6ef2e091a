"""`siyu wecom sync` runs a sync in the process against the simulator."""

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from siyu.cli.main import app as cli
from siyu.connectors.wecom_sim import WecomSim
from siyu.db import session as db_session
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim, sim_snapshot, siyu_snapshot


def test_cli_sync_mirrors_the_corp_and_reports_counts(
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db_session, "_engine", db_session._engine)
    connect_to_sim(db, workspace.id, wecom_sim)

    result = CliRunner().invoke(
        cli, ["wecom", "sync", "--workspace", workspace.slug, "--database-url", database_url]
    )

    assert result.exit_code == 0, result.output
    assert "sync succeeded" in result.output
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)
