"""Full sync from the WeCom simulator over real HTTP."""

import asyncio
import time
from collections.abc import Callable
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync, sync_jobs
from siyu.connectors.wecom.clients import client_for
from siyu.connectors.wecom_sim import WecomSim
from siyu.db.maintenance import StatisticsRefresher
from siyu.models import Customer, FollowRelation, Identity, WecomSyncRun
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim, sim_snapshot, siyu_snapshot


def _sync(
    db: Session, workspace_id: int, run_jobs: Callable[[], int], kind: str = "full"
) -> WecomSyncRun:
    run = sync_jobs.start_run(db, workspace_id, kind)
    db.commit()
    run_jobs()
    db.expire_all()
    refreshed = db.get(WecomSyncRun, run.id)
    assert refreshed is not None
    return refreshed


def test_full_sync_mirrors_the_simulated_corp_exactly(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    wecom_sim.reset(departments=3, staff=6, contacts=120, tag_groups=True, groups=3)
    connect_to_sim(db, workspace.id, wecom_sim)

    run = _sync(db, workspace.id, run_jobs)

    assert run.status == "succeeded", run.error
    expected = sim_snapshot(wecom_sim)
    assert expected.relations
    assert expected.customer_tags
    assert expected.groups
    assert siyu_snapshot(db, workspace.id) == expected
    customers = db.scalar(
        select(func.count()).select_from(Customer).where(Customer.workspace_id == workspace.id)
    )
    assert customers == len(expected.contacts)
    assert run.counts["contacts"] == len(expected.relations)
    assert run.counts["groups"] == len(expected.groups)


def test_second_sync_changes_nothing_and_creates_no_duplicates(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    connect_to_sim(db, workspace.id, wecom_sim)
    _sync(db, workspace.id, run_jobs)
    before = siyu_snapshot(db, workspace.id)
    counted = db.scalar(
        select(func.count())
        .select_from(FollowRelation)
        .where(FollowRelation.workspace_id == workspace.id)
    )

    second = _sync(db, workspace.id, run_jobs, "reconcile")

    assert second.status == "succeeded", second.error
    assert second.fixes == {}
    assert siyu_snapshot(db, workspace.id) == before
    assert (
        db.scalar(
            select(func.count())
            .select_from(FollowRelation)
            .where(FollowRelation.workspace_id == workspace.id)
        )
        == counted
    )
    identities = db.scalar(
        select(func.count()).select_from(Identity).where(Identity.workspace_id == workspace.id)
    )
    assert identities == db.scalar(
        select(func.count(func.distinct(Identity.value))).where(
            Identity.workspace_id == workspace.id
        )
    )


class Killed(Exception):
    """The worker died right after committing a page."""


def test_sync_killed_after_a_page_resumes_where_it_stopped_without_duplicates(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    wecom_sim.reset(staff=4, contacts=350, groups=1)
    connect_to_sim(db, workspace.id, wecom_sim)
    run = sync_jobs.start_run(db, workspace.id, "full")
    db.commit()
    pages = 0

    def commit_then_die() -> None:
        nonlocal pages
        db.commit()
        if run.phase == "contacts" and run.checkpoint.get("cursor"):
            pages += 1
            if pages == 2:
                raise Killed

    async def work() -> None:
        async with client_for(db, workspace.id) as client:
            await sync.Syncer(
                db, run, client, commit=commit_then_die, progress=lambda _d, _t: None
            ).execute()

    with pytest.raises(Killed):
        asyncio.run(work())
    db.rollback()
    partial = db.scalar(
        select(func.count()).select_from(Customer).where(Customer.workspace_id == workspace.id)
    )
    assert partial is not None
    assert 0 < partial < 350
    db.rollback()

    run_jobs()  # the queued job picks the run up at its checkpoint

    finished = db.get(WecomSyncRun, run.id)
    assert finished is not None
    db.refresh(finished)
    assert finished.status == "succeeded", finished.error
    expected = sim_snapshot(wecom_sim)
    assert siyu_snapshot(db, workspace.id) == expected
    assert finished.counts["contacts"] == len(expected.relations)  # no page read twice
    customers = db.scalar(
        select(func.count()).select_from(Customer).where(Customer.workspace_id == workspace.id)
    )
    assert customers == len(expected.contacts)


def test_contact_known_by_unionid_joins_the_existing_customer(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    with wecom_sim.state.lock:
        contact = sorted(wecom_sim.state.contacts.values(), key=lambda c: c.external_userid)[0]
    known = api.post(
        "/api/v1/customers",
        json={
            "name": "小程序用户",
            "identities": [{"kind": "wechat_unionid", "value": contact.unionid}],
        },
    )
    assert known.status_code == 201, known.text
    connect_to_sim(db, workspace.id, wecom_sim)

    _sync(db, workspace.id, run_jobs)

    kinds = set(
        db.scalars(
            select(Identity.kind).where(Identity.customer_id == known.json()["customer"]["id"])
        )
    )
    assert kinds == {"wechat_unionid", "wecom_external_userid"}
    customers = db.scalar(
        select(func.count()).select_from(Customer).where(Customer.workspace_id == workspace.id)
    )
    assert customers == len(sim_snapshot(wecom_sim).contacts)


@pytest.mark.postgres_only
def test_a_first_sync_refreshes_planner_statistics_as_its_tables_fill(
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Otherwise PostgreSQL keeps planning the contact lookups as if the tables were empty."""
    monkeypatch.setattr(sync, "StatisticsRefresher", partial(StatisticsRefresher, first_at=50))
    wecom_sim.reset(departments=2, staff=4, contacts=120)
    connect_to_sim(db, workspace.id, wecom_sim)

    def analyzed() -> int:
        return int(
            db.scalar(
                text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'identity'")
            )
            or 0
        )

    before = analyzed()
    assert _sync(db, workspace.id, run_jobs).status == "succeeded"
    db.commit()
    deadline = time.monotonic() + 10  # the statistics collector reports asynchronously
    while analyzed() == before and time.monotonic() < deadline:
        time.sleep(0.1)
        db.rollback()
    assert analyzed() > before
