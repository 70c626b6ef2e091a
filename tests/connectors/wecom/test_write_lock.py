"""A WeCom job must not hold SQLite's write lock while it waits on WeCom: with a slow
simulator, another writer gets the lock while a callback handler's call is in flight."""

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync_jobs
from siyu.connectors.wecom.jobs import PROCESS_CALLBACK
from siyu.connectors.wecom_sim import WecomSim
from siyu.models import WecomCallback
from siyu.worker.queue import REALTIME_LANE, enqueue
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim

CALL = "externalcontact/get"


def _edit_event(userid: str, external_userid: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[corp]]></ToUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>event</MsgType>"
        "<Event>change_external_contact</Event><ChangeType>edit_external_contact</ChangeType>"
        f"<UserID>{userid}</UserID><ExternalUserID>{external_userid}</ExternalUserID></xml>"
    )


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def test_another_writer_is_not_blocked_while_a_callback_waits_on_wecom(
    engine: Engine,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the database-wide write lock is SQLite's")
    wecom_sim.reset(staff=2, contacts=5, groups=0)
    connect_to_sim(db, workspace.id, wecom_sim)
    sync_jobs.start_run(db, workspace.id, "full")
    db.commit()
    run_jobs()
    with wecom_sim.state.lock:
        userid, external_userid = sorted(wecom_sim.state.follows)[0]
    callback = WecomCallback(
        workspace_id=workspace.id,
        dedupe_key=uuid.uuid4().hex,
        event="change_external_contact",
        change_type="edit_external_contact",
        raw_xml=_edit_event(userid, external_userid),
    )
    db.add(callback)
    db.flush()
    enqueue(
        db,
        PROCESS_CALLBACK,
        {"callback_id": callback.id},
        workspace_id=workspace.id,
        lane=REALTIME_LANE,
    )
    db.commit()
    wecom_sim.control.post("/faults", json={"delay_ms": 2000}).raise_for_status()

    worker = threading.Thread(target=run_jobs)
    worker.start()
    try:
        _wait_for(lambda: wecom_sim.state.in_flight.get(CALL, 0) > 0, "the slow WeCom call")
        database = engine.url.database
        assert database is not None
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            # With the lock held this raises "database is locked" at once (no waiting).
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE workspace SET name = name WHERE id = ?", (workspace.id,))
            other.execute("COMMIT")
        finally:
            other.close()
        assert wecom_sim.state.in_flight.get(CALL, 0) > 0  # the handler was still waiting
    finally:
        worker.join()
        wecom_sim.control.post("/faults", json={"delay_ms": 0}).raise_for_status()

    db.expire_all()
    processed = db.scalar(select(WecomCallback).where(WecomCallback.id == callback.id))
    assert processed is not None
    assert (processed.status, processed.error) == ("processed", None)
