"""Housekeeping: old export files and finished imports' files are deleted, nothing else."""

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.config import Mode, Settings
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import ImportRun, Schedule
from siyu.worker.queue import enqueue
from siyu.worker.schedules import SWEEP_FILES_JOB, ensure_installation_schedules
from tests.conftest import WorkspaceFixture

RunJobs = Callable[[], int]


def _file(path: Path, *, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    stamp = (utcnow() - timedelta(days=age_days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _run(
    session: Session, workspace_id: int, upload: Path, *, status: str, finished_days_ago: int | None
) -> ImportRun:
    run = ImportRun(
        workspace_id=workspace_id,
        kind="orders",
        filename=upload.name,
        stored_path=str(upload),
        errors_path=f"{upload}.errors.csv",
        status=status,
        failed=1,
        finished_at=None
        if finished_days_ago is None
        else utcnow() - timedelta(days=finished_days_ago),
    )
    session.add(run)
    session.flush()
    return run


def _sweep(engine: Engine, data_dir: Path, run_jobs: RunJobs) -> None:
    with unit_of_work(engine) as session:
        enqueue(
            session,
            SWEEP_FILES_JOB,
            {"data_dir": str(data_dir), "export_retention_days": 7, "upload_retention_days": 30},
            workspace_id=None,
        )
    assert run_jobs() == 1


def test_sweep_deletes_exports_past_retention_and_keeps_recent_ones(
    engine: Engine, tmp_path: Path, run_jobs: RunJobs
) -> None:
    old = _file(tmp_path / "exports" / "customers-1-1.csv", age_days=8)
    recent = _file(tmp_path / "exports" / "customers-1-2.csv", age_days=6)

    _sweep(engine, tmp_path, run_jobs)

    assert not old.exists()
    assert recent.exists()


def test_sweep_deletes_files_of_imports_finished_before_the_cutoff_only(
    engine: Engine, workspace: WorkspaceFixture, tmp_path: Path, run_jobs: RunJobs
) -> None:
    imports = tmp_path / "imports" / workspace.slug
    finished_long_ago = _file(imports / "a-orders.csv", age_days=40)
    errors_long_ago = _file(Path(f"{finished_long_ago}.errors.csv"), age_days=40)
    finished_recently = _file(imports / "b-orders.csv", age_days=40)
    still_running = _file(imports / "c-orders.csv", age_days=40)
    with unit_of_work(engine) as session:
        _run(session, workspace.id, finished_long_ago, status="failed", finished_days_ago=31)
        _run(session, workspace.id, finished_recently, status="succeeded", finished_days_ago=29)
        _run(session, workspace.id, still_running, status="running", finished_days_ago=None)

    _sweep(engine, tmp_path, run_jobs)

    assert not finished_long_ago.exists()
    assert not errors_long_ago.exists()
    assert finished_recently.exists()
    assert still_running.exists()


def test_error_download_of_a_swept_import_says_the_file_is_gone(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture, tmp_path: Path
) -> None:
    with unit_of_work(engine) as session:
        run = _run(
            session, workspace.id, tmp_path / "gone.csv", status="failed", finished_days_ago=31
        )
        run_id = run.id

    response = api.get(f"/api/v1/imports/{run_id}/errors")

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "gone"
    assert "SIYU_UPLOAD_RETENTION_DAYS" in response.json()["error"]["message"]


def test_housekeeping_schedules_are_created_once_and_follow_the_retention_settings(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(mode=Mode.DEV, data_dir=tmp_path, export_retention_days=3)
    with unit_of_work(engine) as session:
        ensure_installation_schedules(session, settings)
        ensure_installation_schedules(session, settings)
    changed = Settings(mode=Mode.DEV, data_dir=tmp_path, export_retention_days=5)
    with unit_of_work(engine) as session:
        ensure_installation_schedules(session, changed)

    with Session(engine) as session:
        schedules = session.scalars(select(Schedule).where(Schedule.key == SWEEP_FILES_JOB)).all()
    assert len(schedules) == 1
    assert schedules[0].payload["export_retention_days"] == 5
    assert schedules[0].payload["data_dir"] == str(tmp_path.resolve())
