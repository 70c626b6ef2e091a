"""Handover (在职继承): limits enforced before calling, results polled until final, and
Siyu's relations following the customer to the takeover member."""

import asyncio
import math
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.connectors.wecom import handlers, handover, sync_jobs
from siyu.connectors.wecom.events import CallbackEvent
from siyu.connectors.wecom_sim import WecomSim
from siyu.kit.time import utcnow
from siyu.models import FollowLoss, Job, WecomTransfer
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim, sim_snapshot, siyu_snapshot


def _synced(db: Session, workspace_id: int, sim: WecomSim, run_jobs: Callable[[], int]) -> None:
    connect_to_sim(db, workspace_id, sim)
    sync_jobs.start_run(db, workspace_id, "full")
    db.commit()
    run_jobs()


def _customers_of(sim: WecomSim, userid: str) -> list[str]:
    with sim.state.lock:
        return sorted(e for u, e in sim.state.follows if u == userid)


def _transfers(db: Session, workspace_id: int) -> list[WecomTransfer]:
    db.expire_all()
    return list(
        db.scalars(
            select(WecomTransfer)
            .where(WecomTransfer.workspace_id == workspace_id)
            .order_by(WecomTransfer.id)
        )
    )


def test_transfer_is_sent_100_a_request_polled_until_done_and_mirrored(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    wecom_sim.reset(staff=2, contacts=260, groups=0)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    with wecom_sim.state.lock:
        giver, taker = sorted(wecom_sim.state.members)
    customers = [
        e for e in _customers_of(wecom_sim, giver) if e not in _customers_of(wecom_sim, taker)
    ]
    assert len(customers) > handover.PER_REQUEST

    handover.request_transfers(
        db,
        workspace.id,
        kind="onjob",
        handover_userid=giver,
        takeover_userid=taker,
        external_userids=customers,
    )
    db.commit()
    run_jobs()

    assert {t.status for t in _transfers(db, workspace.id)} == {"waiting"}
    with wecom_sim.state.lock:
        requests = len(wecom_sim.state.calls["externalcontact/transfer_customer"])
    assert requests == math.ceil(len(customers) / handover.PER_REQUEST)

    wecom_sim.control.post("/clock/advance", json={"seconds": 25 * 3600}).raise_for_status()
    db.execute(update(Job).where(Job.name == handover.POLL_JOB).values(run_at=utcnow()))
    db.commit()
    run_jobs()

    assert {t.status for t in _transfers(db, workspace.id)} == {"done"}
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)
    assert set(customers) <= {e for u, e in siyu_snapshot(db, workspace.id).relations if u == taker}
    losses = db.scalars(select(FollowLoss).where(FollowLoss.workspace_id == workspace.id)).all()
    assert losses == []  # a transfer is not a lost customer


def test_a_third_onjob_transfer_within_90_days_is_refused_before_calling(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    _synced(db, workspace.id, wecom_sim, run_jobs)
    with wecom_sim.state.lock:
        giver, external_userid = sorted(wecom_sim.state.follows)[0]
        taker = next(u for u in sorted(wecom_sim.state.members) if u != giver)
    for days_ago in (80, 10):
        db.add(
            WecomTransfer(
                workspace_id=workspace.id,
                kind="onjob",
                handover_userid=giver,
                takeover_userid=taker,
                external_userid=external_userid,
                status="done",
                requested_at=utcnow() - timedelta(days=days_ago),
            )
        )
    db.commit()

    [third] = handover.request_transfers(
        db,
        workspace.id,
        kind="onjob",
        handover_userid=giver,
        takeover_userid=taker,
        external_userids=[external_userid],
    )
    db.commit()
    run_jobs()

    assert third.status == "refused"
    assert third.reason == handover.WINDOW_REASON
    with wecom_sim.state.lock:
        assert "externalcontact/transfer_customer" not in wecom_sim.state.calls


def test_handover_api_queues_transfers_and_lists_them(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    _synced(db, workspace.id, wecom_sim, run_jobs)
    with wecom_sim.state.lock:
        giver, external_userid = sorted(wecom_sim.state.follows)[0]
        taker = next(
            u
            for u in sorted(wecom_sim.state.members)
            if u != giver and (u, external_userid) not in wecom_sim.state.follows
        )
    body = {
        "kind": "onjob",
        "handover_userid": giver,
        "takeover_userid": taker,
        "external_userids": [external_userid],
    }

    started = api.post("/api/v1/wecom/handovers", json=body)
    assert started.status_code == 202, started.text
    assert [t["status"] for t in started.json()] == ["pending"]
    run_jobs()

    listed = api.get("/api/v1/wecom/handovers", params={"handover_userid": giver}).json()
    assert [(t["external_userid"], t["status"]) for t in listed] == [(external_userid, "waiting")]


def test_a_refused_transfer_ends_on_its_transfer_fail_callback(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    _synced(db, workspace.id, wecom_sim, run_jobs)
    with wecom_sim.state.lock:
        giver, external_userid = sorted(wecom_sim.state.follows)[0]
        taker = next(
            u
            for u in sorted(wecom_sim.state.members)
            if u != giver and (u, external_userid) not in wecom_sim.state.follows
        )
    handover.request_transfers(
        db,
        workspace.id,
        kind="onjob",
        handover_userid=giver,
        takeover_userid=taker,
        external_userids=[external_userid],
    )
    db.commit()
    run_jobs()
    decided = {"external_userid": external_userid, "outcome": 3}
    wecom_sim.control.post("/transfers/decide", json=decided).raise_for_status()
    wecom_sim.control.post("/clock/advance", json={"seconds": 25 * 3600}).raise_for_status()
    wecom_sim.control.post("/transfers/settle").raise_for_status()
    event = CallbackEvent(
        event="change_external_contact",
        change_type="transfer_fail",
        create_time=utcnow(),
        fields={
            "UserID": taker,
            "ExternalUserID": external_userid,
            "FailReason": "customer_refused",
        },
    )

    asyncio.run(_deliver(db, workspace.id, event))

    [transfer] = _transfers(db, workspace.id)
    assert transfer.status == "customer_refused"
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)


async def _deliver(db: Session, workspace_id: int, event: CallbackEvent) -> None:
    await handlers.transfer_failed(db, workspace_id, event)
    db.commit()


def test_candidates_show_which_customers_wecom_would_refuse_and_why(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    wecom_sim.reset(staff=2, contacts=12, groups=0)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    with wecom_sim.state.lock:
        giver, taker = sorted(wecom_sim.state.members)
    twice, busy, *free = _customers_of(wecom_sim, giver)
    for status in ("done", "done"):
        db.add(
            WecomTransfer(
                workspace_id=workspace.id,
                kind="onjob",
                handover_userid=giver,
                takeover_userid=taker,
                external_userid=twice,
                status=status,
            )
        )
    db.add(
        WecomTransfer(
            workspace_id=workspace.id,
            kind="resigned",
            handover_userid=giver,
            takeover_userid=taker,
            external_userid=busy,
            status="waiting",
        )
    )
    db.commit()

    url = "/api/v1/wecom/handovers/candidates"
    onjob = {
        c["external_userid"]: c for c in api.get(url, params={"handover_userid": giver}).json()
    }
    assert set(onjob) == {twice, busy, *free}
    assert (onjob[twice]["eligible"], onjob[twice]["recent_onjob"]) == (False, 2)
    assert onjob[twice]["reason"] == handover.WINDOW_REASON
    assert (onjob[busy]["eligible"], onjob[busy]["reason"]) == (False, handover.IN_PROGRESS_REASON)
    assert all(onjob[e]["eligible"] and onjob[e]["reason"] is None for e in free)
    assert all(c["customer_id"] for c in onjob.values())

    resigned = api.get(url, params={"handover_userid": giver, "kind": "resigned"}).json()
    assert {c["external_userid"] for c in resigned if c["eligible"]} == {twice, *free}
    assert api.get(url, params={"handover_userid": "nobody"}).status_code == 404
