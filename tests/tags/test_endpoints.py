from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from siyu.db.session import unit_of_work
from siyu.models import AuditEntry, CustomerTag, TagChange
from siyu.tags import service
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.tags.conftest import MakeCustomers


def _group(api: TestClient, name: str) -> int:
    response = api.post("/api/v1/tag-groups", json={"name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _tag(api: TestClient, group_id: int, name: str) -> int:
    response = api.post(f"/api/v1/tag-groups/{group_id}/tags", json={"name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _count(engine: Engine, model: Any, workspace_id: int) -> int:
    with unit_of_work(engine) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(model).where(model.workspace_id == workspace_id)
            )
            or 0
        )


def test_groups_list_with_tags_in_order_and_customer_counts(
    api: TestClient, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    level, interest = _group(api, "等级"), _group(api, "兴趣")
    vip, normal = _tag(api, level, "VIP"), _tag(api, level, "普通")
    coffee = _tag(api, interest, "咖啡")
    customers = make_customers(workspace.id, 2)
    for customer in customers:
        api.post(f"/api/v1/customers/{customer}/tags", json={"tag_ids": [vip, coffee]})

    reordered = api.put("/api/v1/tag-groups/order", json={"ids": [interest]})
    api.put(f"/api/v1/tag-groups/{level}/tags/order", json={"ids": [normal, vip]})
    groups = api.get("/api/v1/tag-groups").json()

    assert reordered.status_code == 200
    assert [g["name"] for g in groups] == ["兴趣", "等级"]
    assert [(t["name"], t["customer_count"]) for t in groups[1]["tags"]] == [
        ("普通", 0),
        ("VIP", 2),
    ]
    assert groups[0]["tags"][0]["customer_count"] == 2


def test_duplicate_group_or_tag_name_is_a_conflict(api: TestClient) -> None:
    level = _group(api, "等级")
    _tag(api, level, "VIP")

    group_again = api.post("/api/v1/tag-groups", json={"name": "等级"})
    tag_again = api.post(f"/api/v1/tag-groups/{level}/tags", json={"name": "VIP"})

    assert group_again.status_code == 409
    assert tag_again.status_code == 409
    assert tag_again.json()["error"]["details"]["field"] == "name"


def test_reorder_with_unknown_or_duplicate_ids_is_refused(api: TestClient) -> None:
    level = _group(api, "等级")

    unknown = api.put("/api/v1/tag-groups/order", json={"ids": [level, 999_999]})
    duplicate = api.put("/api/v1/tag-groups/order", json={"ids": [level, level]})

    assert unknown.status_code == 404
    assert duplicate.status_code == 422
    assert duplicate.json()["error"]["details"]["field"] == "ids"


def test_rename_and_move_tag(api: TestClient) -> None:
    level, interest = _group(api, "等级"), _group(api, "兴趣")
    vip = _tag(api, level, "VIP")

    renamed = api.patch(f"/api/v1/tags/{vip}", json={"name": "金卡", "group_id": interest})
    group = api.patch(f"/api/v1/tag-groups/{level}", json={"name": "会员等级"})

    assert renamed.json()["group_id"] == interest
    assert renamed.json()["name"] == "金卡"
    assert group.json()["name"] == "会员等级"


def test_customer_tags_add_remove_and_history(
    api: TestClient, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    [customer] = make_customers(workspace.id, 1)
    level = _group(api, "等级")
    vip, normal = _tag(api, level, "VIP"), _tag(api, level, "普通")

    added = api.post(f"/api/v1/customers/{customer}/tags", json={"tag_ids": [vip, normal]})
    api.post(f"/api/v1/customers/{customer}/tags", json={"tag_ids": [vip]})
    removed = api.delete(f"/api/v1/customers/{customer}/tags", params={"tag_ids": [normal]})
    listed = api.get(f"/api/v1/customers/{customer}/tags").json()
    page1 = api.get(f"/api/v1/customers/{customer}/tag-history", params={"limit": 2}).json()
    page2 = api.get(
        f"/api/v1/customers/{customer}/tag-history",
        params={"limit": 2, "cursor": page1["next_cursor"]},
    ).json()

    assert added.status_code == 200
    assert {t["tag_name"] for t in added.json()} == {"VIP", "普通"}
    assert [t["tag_name"] for t in removed.json()] == ["VIP"]
    assert listed[0]["source"] == "manual"
    assert listed[0]["actor"].startswith("api_key:")
    history = page1["items"] + page2["items"]
    assert [(h["action"], h["tag_name"]) for h in history] == [
        ("remove", "等级/普通"),
        ("add", "等级/普通"),
        ("add", "等级/VIP"),
    ]
    assert page2["next_cursor"] is None


def test_other_workspace_tags_customers_and_jobs_are_not_found(
    api: TestClient,
    client: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    make_workspace: MakeWorkspace,
    make_customers: MakeCustomers,
) -> None:
    other = make_workspace()
    [mine] = make_customers(workspace.id, 1)
    [theirs] = make_customers(other.id, 1)
    my_tag = _tag(api, _group(api, "等级"), "VIP")
    their_group = client.post(
        "/api/v1/tag-groups", json={"name": "等级"}, headers=other.headers
    ).json()["id"]
    their_tag = client.post(
        f"/api/v1/tag-groups/{their_group}/tags", json={"name": "VIP"}, headers=other.headers
    ).json()["id"]
    ids = [theirs, *range(10_000_000, 10_001_500)]
    their_job = client.post(
        "/api/v1/tags/batch",
        json={"action": "add", "tag_ids": [their_tag], "filter": {"tag_ids": [their_tag]}},
        headers=other.headers,
    ).json()["job_id"]

    responses = [
        api.post(f"/api/v1/customers/{mine}/tags", json={"tag_ids": [their_tag]}),
        api.post(f"/api/v1/customers/{theirs}/tags", json={"tag_ids": [my_tag]}),
        api.get(f"/api/v1/customers/{theirs}/tags"),
        api.get(f"/api/v1/customers/{theirs}/tag-history"),
        api.patch(f"/api/v1/tags/{their_tag}", json={"name": "x"}),
        api.delete(f"/api/v1/tag-groups/{their_group}"),
        api.post(
            "/api/v1/tags/batch",
            json={"action": "add", "tag_ids": [their_tag], "customer_ids": [mine]},
        ),
        api.post(
            "/api/v1/tags/batch", json={"action": "add", "tag_ids": [my_tag], "customer_ids": ids}
        ),
        api.get(f"/api/v1/jobs/{their_job}"),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert _count(engine, CustomerTag, other.id) == 0


def test_viewer_cannot_change_tags(
    client: TestClient, make_workspace: MakeWorkspace, make_customers: MakeCustomers
) -> None:
    viewer = make_workspace(role=Role.VIEWER)
    [customer] = make_customers(viewer.id, 1)
    client.headers.update(viewer.headers)

    assert client.post("/api/v1/tag-groups", json={"name": "等级"}).status_code == 403
    assert (
        client.post(f"/api/v1/customers/{customer}/tags", json={"tag_ids": [1]}).status_code == 403
    )
    assert client.get("/api/v1/tag-groups").status_code == 200


def test_deleting_a_tag_removes_assignments_keeps_history_and_is_audited(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    customers = make_customers(workspace.id, 3)
    level = _group(api, "等级")
    vip, normal = _tag(api, level, "VIP"), _tag(api, level, "普通")
    api.post(
        "/api/v1/tags/batch", json={"action": "add", "tag_ids": [vip], "customer_ids": customers}
    )
    api.post(f"/api/v1/customers/{customers[0]}/tags", json={"tag_ids": [normal]})

    deleted = api.delete(f"/api/v1/tags/{vip}")
    history = api.get(f"/api/v1/customers/{customers[1]}/tag-history").json()["items"]
    group_deleted = api.delete(f"/api/v1/tag-groups/{level}")

    assert deleted.status_code == 204
    assert group_deleted.status_code == 204
    assert history[0]["action"] == "remove"
    assert history[0]["tag_name"] == "等级/VIP"
    assert history[0]["tag_id"] is None  # the tag is gone; its name stays in history
    assert _count(engine, CustomerTag, workspace.id) == 0
    assert _count(engine, TagChange, workspace.id) == 4 + 4
    with unit_of_work(engine) as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.workspace_id == workspace.id)
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["tag.delete", "tag_group.delete"]
    assert api.get("/api/v1/tag-groups").json() == []


def test_small_explicit_batch_runs_inline(
    api: TestClient, workspace: WorkspaceFixture, make_customers: MakeCustomers
) -> None:
    customers = make_customers(workspace.id, 5)
    vip = _tag(api, _group(api, "等级"), "VIP")

    added = api.post(
        "/api/v1/tags/batch", json={"action": "add", "tag_ids": [vip], "customer_ids": customers}
    )
    removed = api.post(
        "/api/v1/tags/batch",
        json={"action": "remove", "tag_ids": [vip], "customer_ids": customers[:2]},
    )

    assert added.status_code == 200
    assert added.json() == {"job_id": None, "changed": 5}
    assert removed.json() == {"job_id": None, "changed": 2}


def test_batch_needs_exactly_one_target_and_a_valid_filter(api: TestClient) -> None:
    vip = _tag(api, _group(api, "等级"), "VIP")

    neither = api.post("/api/v1/tags/batch", json={"action": "add", "tag_ids": [vip]})
    bad_filter = api.post(
        "/api/v1/tags/batch",
        json={
            "action": "add",
            "tag_ids": [vip],
            "filter": {
                "created_from": "2026-02-01T00:00:00Z",
                "created_to": "2026-01-01T00:00:00Z",
            },
        },
    )

    assert neither.status_code == 422
    assert neither.json()["error"]["details"]["field"] == "customer_ids"
    assert bad_filter.status_code == 422
    assert bad_filter.json()["error"]["details"]["field"] == "filter.created_to"


def test_large_batch_runs_as_a_resumable_job(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    make_customers: MakeCustomers,
    run_jobs: Callable[[], int],
) -> None:
    customers = make_customers(workspace.id, 1_201)
    level = _group(api, "等级")
    vip, gold = _tag(api, level, "VIP"), _tag(api, level, "金卡")
    api.post(f"/api/v1/customers/{customers[0]}/tags", json={"tag_ids": [vip]})

    started = api.post(
        "/api/v1/tags/batch", json={"action": "add", "tag_ids": [vip], "customer_ids": customers}
    )
    job_id = started.json()["job_id"]
    queued = api.get(f"/api/v1/jobs/{job_id}").json()
    ran = run_jobs()
    done = api.get(f"/api/v1/jobs/{job_id}").json()

    assert started.status_code == 202
    assert queued["status"] == "queued"
    assert ran == 1
    assert done["status"] == "succeeded"
    assert done["result"] == {"changed": 1_200, "processed": 1_201}
    assert (done["progress_done"], done["progress_total"]) == (1_201, 1_201)
    assert _count(engine, CustomerTag, workspace.id) == 1_201
    assert _count(engine, TagChange, workspace.id) == 1_201

    by_filter = api.post(
        "/api/v1/tags/batch",
        json={"action": "add", "tag_ids": [gold], "filter": {"tag_ids": [vip]}},
    ).json()
    run_jobs()
    removal = api.post(
        "/api/v1/tags/batch",
        json={"action": "remove", "tag_ids": [vip], "filter": {"tag_ids": [vip]}},
    ).json()
    run_jobs()

    assert api.get(f"/api/v1/jobs/{by_filter['job_id']}").json()["result"]["changed"] == 1_201
    assert api.get(f"/api/v1/jobs/{removal['job_id']}").json()["result"] == {
        "changed": 1_201,
        "processed": 1_201,
    }
    groups = api.get("/api/v1/tag-groups").json()
    assert {t["name"]: t["customer_count"] for t in groups[0]["tags"]} == {"VIP": 0, "金卡": 1_201}


def test_staff_role_cannot_tag_customers_outside_their_scope(
    client: TestClient,
    engine: Engine,
    make_workspace: MakeWorkspace,
    make_customers: MakeCustomers,
) -> None:
    staff_key = make_workspace(role=Role.STAFF)
    [customer] = make_customers(staff_key.id, 1)
    with unit_of_work(engine) as session:
        tag_id = service.ensure_tags(session, staff_key.id, [("等级", "VIP")])[("等级", "VIP")]
    client.headers.update(staff_key.headers)

    added = client.post(f"/api/v1/customers/{customer}/tags", json={"tag_ids": [tag_id]})
    history = client.get(f"/api/v1/customers/{customer}/tag-history")

    assert added.status_code == 404  # a staff member who follows nobody sees no customer
    assert history.status_code == 404


def test_tag_group_list_takes_two_queries_however_many_tags_and_customers(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    with unit_of_work(engine) as session:
        service.ensure_tags(
            session, workspace.id, [(f"组{g}", f"标签{t}") for g in range(5) for t in range(5)]
        )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        groups = api.get("/api/v1/tag-groups").json()
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert sum(len(g["tags"]) for g in groups) == 25
    tag_queries = [s for s in statements if "tag" in s.lower() and "api_key" not in s.lower()]
    assert len(tag_queries) == 2
    assert not any("customer_tag" in s.lower() for s in tag_queries)
