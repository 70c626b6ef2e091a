"""Customer groups in the console API: the list (filters, keyset paging, customers vs staff)
and one group with its members, after a sync from the simulator."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync_jobs
from siyu.connectors.wecom_sim import WecomSim
from siyu.customers import groups as customer_groups
from siyu.models import CustomerGroup, Staff
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim

GROUPS = "/api/v1/wecom/groups"


def _synced(db: Session, workspace_id: int, sim: WecomSim, run_jobs: Callable[[], int]) -> None:
    connect_to_sim(db, workspace_id, sim)
    sync_jobs.start_run(db, workspace_id, "full")
    db.commit()
    run_jobs()


def _sim_groups(sim: WecomSim) -> dict[str, tuple[str, str, int, int]]:
    """chat_id -> (name, owner, customers, staff)."""
    with sim.state.lock:
        return {
            c.chat_id: (
                c.name,
                c.owner,
                sum(1 for m in c.members if m.type == 2),
                sum(1 for m in c.members if m.type == 1),
            )
            for c in sim.state.groups.values()
        }


def _all_pages(api: TestClient, **params: object) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = api.get(GROUPS, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_group_list_shows_every_synced_group_with_owner_and_member_mix(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    wecom_sim.reset(staff=4, contacts=40, groups=7)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    expected = _sim_groups(wecom_sim)
    assert len(expected) == 7

    listed = _all_pages(api, limit=2)
    assert {
        g["chat_id"]: (g["name"], g["owner_userid"], g["customer_count"], g["staff_count"])
        for g in listed
    } == expected
    ids = [g["id"] for g in listed]
    assert ids == sorted(ids, reverse=True)  # newest first, no row twice across pages
    assert all(g["owner_name"] for g in listed)

    owner = db.scalar(select(Staff).where(Staff.wecom_userid == listed[0]["owner_userid"]))
    assert owner is not None
    mine = _all_pages(api, owner_staff_id=owner.id)
    assert {g["chat_id"] for g in mine} == {
        chat for chat, (_, userid, _, _) in expected.items() if userid == owner.wecom_userid
    }
    named = api.get(GROUPS, params={"q": str(listed[0]["name"])[-3:]}).json()["items"]
    assert listed[0]["id"] in [g["id"] for g in named]
    by_size = _all_pages(api, sort="-member_count")
    sizes = [g["member_count"] for g in by_size]
    assert sizes == sorted(sizes, reverse=True)


def test_group_detail_lists_members_with_customers_linked_and_dismissed_groups_filtered(
    api: TestClient,
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
) -> None:
    wecom_sim.reset(staff=3, contacts=30, groups=3)
    _synced(db, workspace.id, wecom_sim, run_jobs)
    group = api.get(GROUPS).json()["items"][0]

    detail = api.get(f"{GROUPS}/{group['id']}")
    assert detail.status_code == 200, detail.text
    members = detail.json()["members"]
    with wecom_sim.state.lock:
        chat = wecom_sim.state.groups[str(group["chat_id"])]
        sim_members = {m.userid: m.type for m in chat.members}
    assert {m["member_id"]: 2 if m["member_type"] == "external" else 1 for m in members} == (
        sim_members
    )
    customers = [m for m in members if m["member_type"] == "external"]
    assert customers
    assert all(m["customer_id"] is not None and m["customer_name"] for m in customers)
    customer_id = customers[0]["customer_id"]
    assert group["id"] in [
        g["id"] for g in api.get(GROUPS, params={"customer_id": customer_id}).json()["items"]
    ]

    customer_groups.dismiss_wecom_group(db, workspace.id, str(group["chat_id"]))
    db.commit()
    assert group["id"] not in [g["id"] for g in _all_pages(api)]
    dismissed = _all_pages(api, status="dismissed")
    assert [(g["id"], g["customer_count"], g["staff_count"]) for g in dismissed] == [
        (group["id"], 0, 0)
    ]


def test_a_group_of_another_workspace_is_not_found(
    api: TestClient, db: Session, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    foreign = CustomerGroup(workspace_id=other.id, chat_id="wrOTHER", name="别家的群")
    db.add(foreign)
    db.commit()

    assert api.get(f"{GROUPS}/{foreign.id}").status_code == 404
    assert api.get(GROUPS, params={"status": "active", "q": "别家"}).json()["items"] == []
