"""Reconciliation: whatever callbacks were lost, duplicated or reordered, and whatever the
network did meanwhile, a reconcile leaves Siyu holding exactly what WeCom holds."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.connectors.wecom_sim.seed import add_contact
from siyu.connectors.wecom_sim.state import FollowInfo
from siyu.models import WecomSyncRun
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import sim_snapshot, siyu_snapshot
from tests.connectors.wecom.test_handlers import Live, live, siyu_server

__all__ = ["live", "siyu_server"]  # fixtures


def _people(live: Live) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    with live.sim.state.lock:
        userids = sorted(u for u, m in live.sim.state.members.items() if m.status == 1)
        follows = sorted(live.sim.state.follows)
        tags = sorted(live.sim.state.tags)
    return userids, follows, tags


def _post(live: Live, path: str, body: dict[str, Any] | None = None) -> Any:
    response = live.sim.control.post(path, json=body or {})
    response.raise_for_status()
    return response.json()


def test_duplicated_and_reordered_callbacks_converge(live: Live) -> None:
    _post(live, "/faults", {"duplicate_callbacks": True, "shuffle_callbacks": 5})
    userids, follows, tags = _people(live)
    added = _post(live, "/staff-adds-customer", {"userid": userids[0], "name": "周女士"})
    _post(
        live,
        "/staff-edits-customer",
        {"userid": userids[0], "external_userid": added["external_userid"], "add_tag": tags[:2]},
    )
    _post(
        live,
        "/staff-deletes-customer",
        {"userid": userids[0], "external_userid": added["external_userid"]},
    )
    _post(
        live, "/customer-deletes-staff", {"userid": follows[0][0], "external_userid": follows[0][1]}
    )
    chat = _post(live, "/groups", {"owner": userids[1], "name": "会员群", "external_userids": []})
    _post(live, f"/groups/{chat['chat_id']}/join", {"members": [follows[1][1]]})
    _post(live, "/corp-tags", {"group_name": "活动", "tags": ["双十一"]})
    _post(live, "/callbacks/flush")

    live.settle()

    assert live.converged()


def test_reconcile_repairs_every_drift_under_faults_exactly(
    live: Live, api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    userids, follows, tags = _people(live)
    state = live.sim.state
    # Drift no callback reports (lost callbacks, API changes, missed windows).
    with state.lock:
        lost_userid, lost_external = follows[2]
        del state.follows[(lost_userid, lost_external)]
        state.follows[follows[3]].tag_ids = [tags[0], tags[1]]
        state.follows[follows[4]].remark = "改过的备注"
        chat_id = sorted(state.groups)[0]
        state.groups[chat_id].name = "改名的群"
        del state.groups[sorted(state.groups)[-1]]
        state.members[userids[0]].name = "改名的员工"
        # A customer added while the callback URL was down.
        missed = add_contact(state, "漏掉的客户")
        state.follows[(userids[1], missed.external_userid)] = FollowInfo(
            userids[1], missed.external_userid, state.now_int(), tag_ids=[tags[2]]
        )
    # A noisy network while reconciling: rate-limit bursts, expired tokens, 5% 5xx.
    _post(
        live,
        "/faults",
        {"burst_45009": 3, "expire_tokens": True, "error_rate_5xx": 0.05},
    )
    db.rollback()

    started = api.post("/api/v1/wecom/reconcile")
    assert started.status_code == 202, started.text
    live.run_jobs()

    db.expire_all()
    run = db.get(WecomSyncRun, started.json()["id"])
    assert run is not None
    assert run.status == "succeeded", run.error
    _post(live, "/faults", {"error_rate_5xx": 0})
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(live.sim)
    assert missed.external_userid in siyu_snapshot(db, workspace.id).contacts
    assert run.fixes["relations"] >= 2  # one ended, one created (and a remark changed)
    assert run.fixes["groups"] >= 2  # one renamed, one dismissed
    assert run.fixes["customer_tags"] >= 1
    assert run.fixes["staff"] >= 1
