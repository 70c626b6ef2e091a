"""Two-way corp tags: tag changes made in Siyu reach WeCom (whose API fires no callbacks)."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync_jobs
from siyu.connectors.wecom_sim import WecomSim
from siyu.models import Identity, Tag, TagGroup
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim, sim_snapshot, siyu_snapshot


def _synced(db: Session, workspace_id: int, sim: WecomSim, run_jobs: Callable[[], int]) -> None:
    connect_to_sim(db, workspace_id, sim)
    sync_jobs.start_run(db, workspace_id, "full")
    db.commit()
    run_jobs()
    db.expire_all()


def _sim_tags(sim: WecomSim) -> dict[str, tuple[str, str]]:
    """WeCom tag id -> (name, group id) of live tags."""
    with sim.state.lock:
        return {t.id: (t.name, t.group_id) for t in sim.state.tags.values() if not t.deleted}


def test_tags_created_renamed_and_deleted_in_siyu_reach_wecom(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    _synced(db, workspace.id, wecom_sim, run_jobs)
    group = db.scalars(select(TagGroup).where(TagGroup.wecom_group_id.is_not(None))).first()
    assert group is not None
    group_id, wecom_group_id = group.id, group.wecom_group_id
    db.rollback()  # SQLite: the app writes next

    created = api.post(f"/api/v1/tag-groups/{group_id}/tags", json={"name": "黑卡会员"})
    assert created.status_code == 201, created.text
    run_jobs()
    db.expire_all()
    tag = db.get(Tag, created.json()["id"])
    assert tag is not None
    assert tag.wecom_tag_id is not None
    tag_id, wecom_tag_id = tag.id, tag.wecom_tag_id
    assert _sim_tags(wecom_sim)[wecom_tag_id] == ("黑卡会员", wecom_group_id)
    db.rollback()

    api.patch(f"/api/v1/tags/{tag_id}", json={"name": "黑金会员"}).raise_for_status()
    api.patch(f"/api/v1/tag-groups/{group_id}", json={"name": "会员等级"}).raise_for_status()
    run_jobs()
    assert _sim_tags(wecom_sim)[wecom_tag_id] == ("黑金会员", wecom_group_id)
    with wecom_sim.state.lock:
        assert wecom_sim.state.tag_groups[str(wecom_group_id)].group_name == "会员等级"

    assert api.delete(f"/api/v1/tags/{tag_id}").status_code == 204
    run_jobs()
    assert wecom_tag_id not in _sim_tags(wecom_sim)
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)


def test_tagging_a_customer_in_siyu_marks_every_wecom_relation(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    _synced(db, workspace.id, wecom_sim, run_jobs)
    with wecom_sim.state.lock:
        userid, external_userid = sorted(wecom_sim.state.follows)[0]
        relations = [k for k in wecom_sim.state.follows if k[1] == external_userid]
        tag_ids = set(wecom_sim.state.follows[(userid, external_userid)].tag_ids)
    wecom_tag = db.scalars(
        select(Tag).where(Tag.wecom_tag_id.is_not(None), Tag.wecom_tag_id.not_in(tag_ids))
    ).first()
    assert wecom_tag is not None
    siyu_tag_id, wecom_tag_id = wecom_tag.id, str(wecom_tag.wecom_tag_id)
    customer_id = db.scalar(select(Identity.customer_id).where(Identity.value == external_userid))
    db.rollback()

    added = api.post(f"/api/v1/customers/{customer_id}/tags", json={"tag_ids": [siyu_tag_id]})
    assert added.status_code == 200, added.text
    run_jobs()

    with wecom_sim.state.lock:
        for key in relations:
            assert wecom_tag_id in wecom_sim.state.follows[key].tag_ids
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)
    db.rollback()

    removed = api.delete(f"/api/v1/customers/{customer_id}/tags", params={"tag_ids": [siyu_tag_id]})
    assert removed.status_code == 200, removed.text
    run_jobs()
    with wecom_sim.state.lock:
        for key in relations:
            assert wecom_tag_id not in wecom_sim.state.follows[key].tag_ids
    assert siyu_snapshot(db, workspace.id) == sim_snapshot(wecom_sim)
