"""Inbox retention: the daily sweep deletes processed and ignored callbacks (and refused-
callback counts) older than SIYU_WECOM_INBOX_RETENTION_DAYS, batch by batch, in every
workspace; failed, unprocessed and recent callbacks stay."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.config import Mode, Settings
from siyu.connectors.wecom import jobs
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import Schedule, WecomCallback, WecomCallbackRefusal
from siyu.worker.queue import enqueue
from siyu.worker.schedules import WECOM_SWEEP_INBOX_JOB, ensure_installation_schedules
from tests.conftest import MakeWorkspace, WorkspaceFixture


def _callback(db: Session, workspace_id: int, status: str, days_ago: int) -> WecomCallback:
    callback = WecomCallback(
        workspace_id=workspace_id,
        dedupe_key=uuid.uuid4().hex,
        event="change_external_contact",
        raw_xml="<xml/>",
        received_at=utcnow() - timedelta(days=days_ago),
        status=status,
    )
    db.add(callback)
    return callback


def _remaining(db: Session, workspace_id: int) -> list[tuple[str, int]]:
    db.expire_all()
    now = utcnow()
    return sorted(
        (c.status, (now - c.received_at).days)
        for c in db.scalars(select(WecomCallback).where(WecomCallback.workspace_id == workspace_id))
    )


def test_sweep_deletes_old_processed_callbacks_in_batches_and_keeps_the_rest(
    db: Session,
    workspace: WorkspaceFixture,
    make_workspace: MakeWorkspace,
    run_jobs: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "SWEEP_BATCH", 2)
    other = make_workspace()
    for workspace_id in (workspace.id, other.id):
        for _ in range(3):
            _callback(db, workspace_id, "processed", days_ago=40)
        _callback(db, workspace_id, "ignored", days_ago=31)
        _callback(db, workspace_id, "failed", days_ago=40)
        _callback(db, workspace_id, "received", days_ago=40)
        _callback(db, workspace_id, "processed", days_ago=29)
        today = utcnow().date()
        for days_ago in (45, 10):
            db.add(
                WecomCallbackRefusal(
                    workspace_id=workspace_id,
                    day=today - timedelta(days=days_ago),
                    reason="bad_signature",
                    count=3,
                )
            )
    enqueue(db, WECOM_SWEEP_INBOX_JOB, {"retention_days": 30}, workspace_id=None)
    db.commit()

    assert run_jobs() == 1

    for workspace_id in (workspace.id, other.id):
        assert _remaining(db, workspace_id) == [("failed", 40), ("processed", 29), ("received", 40)]
        refusal_days = [
            (today - r.day).days
            for r in db.scalars(
                select(WecomCallbackRefusal).where(
                    WecomCallbackRefusal.workspace_id == workspace_id
                )
            )
        ]
        assert refusal_days == [10]


def test_sweep_is_scheduled_daily_with_the_configured_retention(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(mode=Mode.DEV, data_dir=tmp_path, wecom_inbox_retention_days=14)
    with unit_of_work(engine) as session:
        ensure_installation_schedules(session, settings)

    with Session(engine) as session:
        schedule = session.scalars(
            select(Schedule).where(Schedule.key == WECOM_SWEEP_INBOX_JOB)
        ).one()
    assert (schedule.job_name, schedule.cron) == (WECOM_SWEEP_INBOX_JOB, "50 3 * * *")
    assert schedule.payload == {"retention_days": 14}
    assert Settings(mode=Mode.DEV, data_dir=tmp_path).wecom_inbox_retention_days == 30
