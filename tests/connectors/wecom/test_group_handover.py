"""Group handover (分配在职 / 离职成员的客户群): WeCom's limits enforced before calling, 100
groups a request, each group's result kept, and Siyu showing the new owner at once."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import group_handover, sync_jobs
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.seed import add_group_chat
from siyu.kit.time import utcnow
from siyu.models import CustomerGroup, WecomTransfer
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim, sim_snapshot, siyu_snapshot

ONJOB = "externalcontact/groupchat/onjob_transfer"
RESIGNED = "externalcontact/groupchat/transfer"


def _corp(sim: WecomSim, groups: int) -> tuple[str, str, list[str]]:
    """An owner with `groups` customer groups and another member to take them over."""
    sim.reset(staff=3, contacts=10, groups=0)
    with sim.state.lock:
        owner, new_owner = sorted(sim.state.members)[:2]
        customers = sorted(sim.state.contacts)[:2]
        chat_ids = [
            add_group_chat(sim.state, owner, f"山茶会员群{i}", customers).chat_id
            for i in range(groups)
        ]
    return owner, new_owner, chat_ids


def _synced(db: Session, workspace_id: int, sim: WecomSim, run_jobs: Callable[[], int]) -> None:
    connect_to_sim(db, workspace_id, sim)
    sync_jobs.start_run(db, workspace_id, "full")
    db.commit()
    run_jobs()


def _transfers(db: Session, workspace_id: int) -> dict[str, WecomTransfer]:
    db.expire_all()
    rows = db.scalars(select(WecomTransfer).where(WecomTransfer.workspace_id == workspace_id))
    return {t.external_userid: t for t in rows}


def _calls(sim: WecomSim, path: str) -> int:
    with sim.state.lock:
        return len(sim.state.calls.get(path, []))


def test_onjob_groups_move_100_a_request_and_siyu_shows_the_new_owner(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    owner, new_owner, chat_ids = _corp(wecom_sim, 130)
    _synced(db, workspace.id, wecom_sim, run_jobs)

    group_handover.request_group_transfers(
        db,
        workspace.id,
        kind="onjob",
        handover_userid=owner,
        takeover_userid=new_owner,
        chat_ids=chat_ids,
    )
    db.commit()
    run_jobs()

    transfers = _transfers(db, workspace.id)
    assert {t.status for t in transfers.values()} == {"done"}
    assert all(t.kind == "group_onjob" and t.finished_at for t in transfers.values())
    assert _calls(wecom_sim, ONJOB) == 2
    with wecom_sim.state.lock:
        assert {wecom_sim.state.groups[c].owner for c in chat_ids} == {new_owner}
    owners = db.scalars(
        select(CustomerGroup.owner_userid).where(CustomerGroup.workspace_id == workspace.id)
    )
    assert set(owners) == {new_owner}
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)


def test_groups_wecom_would_refuse_are_refused_before_calling(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    owner, new_owner, (twice, queued, free) = _corp(wecom_sim, 3)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    for _ in range(2):
        db.add(
            WecomTransfer(
                workspace_id=workspace.id,
                kind="group_onjob",
                handover_userid=new_owner,
                takeover_userid=owner,
                external_userid=twice,
                status="done",
            )
        )
    db.add(
        WecomTransfer(
            workspace_id=workspace.id,
            kind="group_onjob",
            handover_userid=owner,
            takeover_userid=new_owner,
            external_userid=queued,
            status="pending",
        )
    )
    db.commit()

    sent = group_handover.request_group_transfers(
        db,
        workspace.id,
        kind="onjob",
        handover_userid=owner,
        takeover_userid=new_owner,
        chat_ids=[twice, queued, free, "wrNotHisGroup"],
    )

    assert [(t.status, t.reason) for t in sent] == [
        ("refused", group_handover.WINDOW_REASON),
        ("refused", group_handover.IN_PROGRESS_REASON),
        ("pending", None),
        ("refused", group_handover.NOT_OWNED_REASON),
    ]


def test_an_owner_s_groups_are_handed_over_at_most_300_a_day(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    owner, new_owner, (first, second) = _corp(wecom_sim, 2)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    db.add_all(
        WecomTransfer(
            workspace_id=workspace.id,
            kind="group_onjob",
            handover_userid=owner,
            takeover_userid=new_owner,
            external_userid=f"wrEarlier{i}",
            status="done",
            requested_at=utcnow(),
        )
        for i in range(group_handover.PER_DAY - 1)
    )
    db.commit()

    sent = group_handover.request_group_transfers(
        db,
        workspace.id,
        kind="onjob",
        handover_userid=owner,
        takeover_userid=new_owner,
        chat_ids=[first, second],
    )

    assert [(t.status, t.reason) for t in sent] == [
        ("pending", None),
        ("refused", group_handover.DAILY_REASON),
    ]


def test_each_group_wecom_refuses_keeps_its_errcode_and_what_to_do(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    owner, new_owner, (kept, dismissed) = _corp(wecom_sim, 2)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    with wecom_sim.state.lock:
        del wecom_sim.state.groups[dismissed]  # dismissed in WeCom, not yet in Siyu

    group_handover.request_group_transfers(
        db,
        workspace.id,
        kind="resigned",  # but the owner is still in service
        handover_userid=owner,
        takeover_userid=new_owner,
        chat_ids=[kept, dismissed],
    )
    db.commit()
    run_jobs()

    transfers = _transfers(db, workspace.id)
    assert (transfers[kept].status, transfers[kept].errcode) == ("failed", 90500)
    assert transfers[kept].reason == group_handover.GROUP_HINTS[90500]
    assert (transfers[dismissed].status, transfers[dismissed].errcode) == ("failed", 90501)
    assert _calls(wecom_sim, RESIGNED) == 1
    with wecom_sim.state.lock:
        assert wecom_sim.state.groups[kept].owner == owner


def test_a_group_sent_again_after_wecom_already_moved_it_is_done(
    wecom_sim: WecomSim, db: Session, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    owner, new_owner, (chat_id,) = _corp(wecom_sim, 1)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    wecom_sim.control.post(f"/groups/{chat_id}/owner", json={"userid": new_owner})

    group_handover.request_group_transfers(
        db,
        workspace.id,
        kind="onjob",
        handover_userid=owner,
        takeover_userid=new_owner,
        chat_ids=[chat_id],
    )
    db.commit()
    run_jobs()

    assert _transfers(db, workspace.id)[chat_id].status == "done"
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)


def test_resigned_owner_groups_through_the_api_with_candidates_and_results(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    owner, new_owner, chat_ids = _corp(wecom_sim, 2)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    wecom_sim.control.post(f"/staff/{owner}/resign").raise_for_status()
    candidates = api.get(
        "/api/v1/wecom/handovers/groups/candidates",
        params={"handover_userid": owner, "kind": "resigned"},
    )
    assert candidates.status_code == 200, candidates.text
    rows = candidates.json()
    assert {c["chat_id"] for c in rows} == set(chat_ids)
    assert all(c["eligible"] and c["name"].startswith("山茶会员群") for c in rows)

    body = {
        "kind": "resigned",
        "handover_userid": owner,
        "takeover_userid": new_owner,
        "chat_ids": chat_ids,
    }
    started = api.post("/api/v1/wecom/handovers/groups", json=body)
    assert started.status_code == 202, started.text
    assert [t["status"] for t in started.json()] == ["pending", "pending"]
    run_jobs()

    listed = api.get("/api/v1/wecom/handovers/groups", params={"handover_userid": owner}).json()
    assert sorted((t["chat_id"], t["kind"], t["status"]) for t in listed) == sorted(
        (c, "resigned", "done") for c in chat_ids
    )
    assert all(t["group_name"].startswith("山茶会员群") for t in listed)
    assert api.get("/api/v1/wecom/handovers", params={"handover_userid": owner}).json() == []
    left = api.get(
        "/api/v1/wecom/handovers/groups/candidates",
        params={"handover_userid": owner, "kind": "resigned"},
    ).json()
    assert left == []
    assert _calls(wecom_sim, RESIGNED) == 1
