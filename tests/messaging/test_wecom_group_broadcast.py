"""WeCom group broadcasts over the simulator: one task per group owner, a result per group."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync_jobs
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.schemas.messages import AddMsgTemplateRequest, TextContent
from siyu.connectors.wecom_sim import WecomSim
from siyu.customers import groups as customer_groups
from siyu.db.session import unit_of_work
from siyu.messaging import service
from siyu.models import CustomerGroup, CustomerGroupMember, Staff
from siyu.worker.queue import enqueue
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim
from tests.messaging.wecom_links import SHORT, known_phone, phone, short_path

RunJobs = Callable[[], int]


@pytest.fixture
def groups(
    db: Session, workspace: WorkspaceFixture, wecom_sim: WecomSim, run_jobs: RunJobs
) -> dict[str, tuple[int, str]]:
    """A synced corp with 6 customer groups: chat_id -> (group id, owner userid)."""
    wecom_sim.reset(staff=3, contacts=20, groups=6, monthly_mass_quota=1)
    connect_to_sim(db, workspace.id, wecom_sim)
    sync_jobs.start_run(db, workspace.id, "full")
    db.commit()
    run_jobs()
    found = {
        g.chat_id: (g.id, str(g.owner_userid))
        for g in db.scalars(select(CustomerGroup).where(CustomerGroup.workspace_id == workspace.id))
    }
    db.commit()
    assert len(found) == 6
    assert len({owner for _, owner in found.values()}) > 1
    return found


def _send(api: TestClient, group_ids: list[int], run_jobs: RunJobs) -> dict[str, Any]:
    created = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "社群周末茶会",
            "channel": "wecom_group",
            "customer_group_ids": group_ids,
            "content": {"text": "本周六下午茶会，{员工姓名}在店里等大家"},
        },
    )
    assert created.status_code == 201, created.text
    broadcast_id = created.json()["id"]
    sent = api.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert sent.status_code == 200, sent.text
    run_jobs()
    return _results(api, broadcast_id)


def _results(api: TestClient, broadcast_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/broadcasts/{broadcast_id}/results")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _confirm_all_and_poll(
    sim: WecomSim, engine: Engine, workspace_id: int, results: dict[str, Any], run_jobs: RunJobs
) -> dict[str, Any]:
    for task in results["tasks"]:
        confirmed = sim.control.post(
            "/groupmsg/confirm", json={"msgid": task["msgid"], "userid": task["userid"]}
        )
        assert confirmed.status_code == 200, confirmed.text
    with unit_of_work(engine) as session:
        enqueue(
            session,
            service.POLL_JOB,
            {"broadcast_id": results["broadcast_id"]},
            workspace_id=workspace_id,
        )
    run_jobs()
    return {g["chat_id"]: g for g in results["groups"]}


def _outside_group_message(sim: WecomSim, owner: str, chat_id: str) -> None:
    """The owner sends the group another mass message elsewhere: its quota (1) is used."""

    async def send() -> str:
        async with WecomClient(sim.corp_id, sim.contact_secret, sim.base_url) as client:
            request = AddMsgTemplateRequest(
                chat_type="group",
                sender=owner,
                chat_id_list=[chat_id],
                text=TextContent(content="群公告"),
            )
            return (await client.externalcontact_add_msg_template(request)).msgid

    msgid = asyncio.run(send())
    confirmed = sim.control.post("/groupmsg/confirm", json={"msgid": msgid, "userid": owner})
    assert confirmed.status_code == 200, confirmed.text


def test_group_broadcast_sends_one_task_per_owner_and_reports_each_group(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    groups: dict[str, tuple[int, str]],
) -> None:
    dismissed, over_quota, gone, *sent = sorted(groups)
    customer_groups.dismiss_wecom_group(db, workspace.id, dismissed)
    db.commit()
    _outside_group_message(wecom_sim, groups[over_quota][1], over_quota)
    outside = set(wecom_sim.state.mass_tasks)

    results = _send(api, [group_id for group_id, _ in groups.values()], run_jobs)

    assert results["status"] == "waiting"
    assert results["counts"]["planned"] == 5
    assert results["excluded_by_reason"] == {"dismissed": 1}
    live = {chat_id: groups[chat_id][1] for chat_id in groups if chat_id != dismissed}
    owners = sorted(set(live.values()))
    assert sorted(t["userid"] for t in results["tasks"]) == owners
    with wecom_sim.state.lock:
        sim_tasks = {m: t for m, t in wecom_sim.state.mass_tasks.items() if m not in outside}
    assert len(sim_tasks) == len(owners)
    for task in results["tasks"]:
        in_sim = sim_tasks[task["msgid"]]
        assert in_sim.chat_type == "group"
        assert in_sim.creator == task["userid"]
        assert {s.chat_id for s in in_sim.sends} == {
            c for c, owner in live.items() if owner == task["userid"]
        }
        assert str(in_sim.text["content"]).startswith("本周六下午茶会，")

    # the group is dismissed in WeCom after the task was created, before the owner sends it
    assert wecom_sim.control.post(f"/groups/{gone}/dismiss").status_code == 200
    _confirm_all_and_poll(wecom_sim, engine, workspace.id, results, run_jobs)

    final = _results(api, results["broadcast_id"])
    assert final["status"] == "completed"
    by_chat = {g["chat_id"]: (g["status"], g["reason"]) for g in final["groups"]}
    assert by_chat == {
        dismissed: ("excluded", "dismissed"),
        over_quota: ("failed", "wecom_quota"),
        gone: ("failed", "group_gone"),
        **dict.fromkeys(sent, ("sent", None)),
    }
    assert final["counts"]["sent"] == len(sent)
    assert final["failed_by_reason"] == {"wecom_quota": 1, "group_gone": 1}
    assert {t["status"] for t in final["tasks"]} == {"sent"}
    assert sum(g["counts"]["sent"] for g in final["by_staff"]) == len(sent)


def test_a_group_that_used_up_the_workspaces_wecom_quota_is_excluded_before_sending(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    groups: dict[str, tuple[int, str]],
) -> None:
    rules = api.put("/api/v1/messaging/rules", json={"wecom_quota": "day"})
    assert rules.status_code == 200, rules.text
    chat_id = sorted(groups)[0]
    first = _send(api, [groups[chat_id][0]], run_jobs)
    _confirm_all_and_poll(wecom_sim, engine, workspace.id, first, run_jobs)
    tasks_before = len(wecom_sim.state.mass_tasks)

    second = _send(api, [groups[chat_id][0]], run_jobs)

    assert second["excluded_by_reason"] == {"wecom_quota": 1}
    assert second["tasks"] == []
    assert len(wecom_sim.state.mass_tasks) == tasks_before
    assert second["status"] == "completed"


def test_cancelling_a_group_broadcast_stops_the_owners_unsent_tasks(
    api: TestClient,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    groups: dict[str, tuple[int, str]],
) -> None:
    results = _send(api, [group_id for group_id, _ in groups.values()], run_jobs)

    cancelled = api.post(f"/api/v1/broadcasts/{results['broadcast_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    run_jobs()

    final = _results(api, results["broadcast_id"])
    assert final["status"] == "cancelled"
    assert {t["status"] for t in final["tasks"]} == {"cancelled"}
    assert {g["status"] for g in final["groups"]} == {"cancelled"}
    with wecom_sim.state.lock:
        assert all(wecom_sim.state.mass_tasks[t["msgid"]].cancelled for t in final["tasks"])


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"customer_group_ids": []}, "customer_group_ids"),
        (
            {
                "customer_group_ids": ["FIRST"],
                "variants": [
                    {"key": "A", "percent": 50, "content": {"text": "甲"}},
                    {"key": "B", "percent": 50, "content": {"text": "乙"}},
                ],
            },
            "variants",
        ),
    ],
)
def test_a_group_broadcast_needs_groups_and_one_content(
    api: TestClient, db: Session, workspace: WorkspaceFixture, extra: dict[str, Any], field: str
) -> None:
    record = customer_groups.WecomGroupRecord(
        chat_id="wrOgQhDgAAfirst",
        name="茶友群",
        owner_userid="lisi",
        owner_staff_id=None,
        created_at=None,
        notice="",
        member_version="1",
        members=(),
    )
    customer_groups.upsert_wecom_groups(db, workspace.id, [record])
    first = db.scalars(select(CustomerGroup.id)).one()
    db.commit()
    body = {
        "name": "社群",
        "channel": "wecom_group",
        "content": {"text": "周末茶会"},
        **{k: [first] if v == ["FIRST"] else v for k, v in extra.items()},
    }

    response = api.post("/api/v1/broadcasts", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field


def test_the_eligibility_preview_lists_each_group_with_its_owner_and_why_it_is_left_out(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    groups: dict[str, tuple[int, str]],
) -> None:
    dismissed, orphaned, *rest = sorted(groups)
    customer_groups.dismiss_wecom_group(db, workspace.id, dismissed)
    orphan = db.scalars(select(CustomerGroup).where(CustomerGroup.chat_id == orphaned)).one()
    resigned = db.get(Staff, orphan.owner_staff_id)
    assert resigned is not None
    resigned.status = "resigned"
    db.commit()
    resigned_groups = {c for c, (_, owner) in groups.items() if owner == resigned.wecom_userid}
    chosen = [group_id for group_id, _ in groups.values()]

    response = api.post(
        "/api/v1/broadcasts/eligibility",
        json={"channel": "wecom_group", "customer_group_ids": [*chosen, chosen[0]]},
    )

    assert response.status_code == 200, response.text
    preview = response.json()
    no_owner = len(resigned_groups - {dismissed})
    assert preview["audience"] == 6
    assert preview["excluded"] == {"dismissed": 1, "no_owner": no_owner}
    assert preview["eligible"] == 6 - 1 - no_owner
    by_id = {g["customer_group_id"]: g for g in preview["groups"]}
    assert list(by_id) == chosen
    assert by_id[groups[dismissed][0]]["reason"] == "dismissed"
    assert by_id[groups[orphaned][0]]["reason"] == "no_owner"
    assert by_id[groups[orphaned][0]]["owner_name"] == resigned.name
    for chat_id in rest:
        if chat_id not in resigned_groups:
            assert by_id[groups[chat_id][0]]["reason"] is None
    members = db.scalar(
        select(func.count())
        .select_from(CustomerGroupMember)
        .where(
            CustomerGroupMember.group_id == groups[rest[0]][0],
            CustomerGroupMember.member_type == "external",
            CustomerGroupMember.status == "active",
        )
    )
    db.commit()
    assert by_id[groups[rest[0]][0]]["customers"] == members

    missing = api.post(
        "/api/v1/broadcasts/eligibility", json={"channel": "wecom_group", "customer_group_ids": []}
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["details"]["field"] == "customer_group_ids"


def test_each_owner_sends_links_of_their_own_and_a_members_click_counts_for_the_owner(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    groups: dict[str, tuple[int, str]],
) -> None:
    created = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "社群新品",
            "channel": "wecom_group",
            "customer_group_ids": [group_id for group_id, _ in groups.values()],
            "content": {"text": "新品茶礼盒上架：https://shop.example.cn/gift 群友专享"},
        },
    )
    assert created.status_code == 201, created.text
    broadcast_id = created.json()["id"]
    assert api.post(f"/api/v1/broadcasts/{broadcast_id}/send").status_code == 200
    run_jobs()
    results = _results(api, broadcast_id)
    with wecom_sim.state.lock:
        texts = {t["userid"]: wecom_sim.state.mass_tasks[t["msgid"]].text for t in results["tasks"]}
    sent = {}
    for userid, text in texts.items():
        (short,) = SHORT.findall(str(text["content"]))
        sent[userid] = short
    assert len(set(sent.values())) == len(sent) > 1
    _confirm_all_and_poll(wecom_sim, engine, workspace.id, results, run_jobs)

    first, second, *_ = sorted(sent)
    member = db.scalar(
        select(CustomerGroupMember.customer_id)
        .join(CustomerGroup, CustomerGroup.id == CustomerGroupMember.group_id)
        .where(
            CustomerGroup.workspace_id == workspace.id,
            CustomerGroup.owner_userid == first,
            CustomerGroupMember.customer_id.is_not(None),
        )
        .limit(1)
    )
    staff_of = dict(db.execute(select(Staff.wecom_userid, Staff.id)).all())
    db.commit()
    assert member is not None
    known_phone(api, engine, workspace.id, member).get(
        short_path(sent[first]), follow_redirects=False
    )
    phone(api).get(short_path(sent[second]), follow_redirects=False)

    final = _results(api, broadcast_id)

    assert final["counts"]["clicked"] == 2
    staff = {row["key"]: row["counts"]["clicked"] for row in final["by_staff"]}
    assert staff[str(staff_of[first])] == staff[str(staff_of[second])] == 1
