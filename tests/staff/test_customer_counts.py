from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.customers import merging
from siyu.customers.follow import upsert_follow_relation
from tests.conftest import MakeWorkspace, WorkspaceFixture

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def _staff(api: TestClient, name: str, department_id: int | None = None) -> int:
    response = api.post("/api/v1/staff", json={"name": name, "department_id": department_id})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _customer(api: TestClient, name: str) -> int:
    customer_id: int = api.post("/api/v1/customers", json={"name": name}).json()["customer"]["id"]
    return customer_id


def test_staff_list_counts_live_actively_followed_customers(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    store = api.post("/api/v1/departments", json={"name": "徐汇店"}).json()["id"]
    busy = _staff(api, "王芳", store)
    idle = _staff(api, "李雷", store)
    first, second, gone, merged = (_customer(api, n) for n in ("甲", "乙", "丙", "丁"))
    for customer_id in (first, second, gone, merged):
        upsert_follow_relation(db, workspace.id, customer_id, busy, added_at=NOW)
    db.commit()
    relation = api.get(f"/api/v1/customers/{gone}").json()["follow_relations"][0]
    api.patch(f"/api/v1/follow-relations/{relation['id']}", json={"status": "deleted_by_customer"})
    merging.merge(db, workspace.id, first, merged, reason="same", actor="test")
    db.commit()

    listed = api.get("/api/v1/staff", params={"department_id": store}).json()["items"]
    counts = {member["id"]: member["customer_count"] for member in listed}
    assert counts == {busy: 2, idle: 0}
    followed = api.get(f"/api/v1/staff/{busy}/customers").json()["items"]
    assert len(followed) == counts[busy]


def test_customer_counts_stay_within_the_workspace(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    other_api = TestClient(client.app, headers=other.headers)
    theirs = _staff(other_api, "别家员工")
    assert [m["id"] for m in api.get("/api/v1/staff").json()["items"]] == []
    assert other_api.get("/api/v1/staff").json()["items"][0]["customer_count"] == 0
    assert api.get(f"/api/v1/staff/{theirs}/customers").status_code == 404
