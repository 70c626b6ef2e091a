from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.models import Customer, Staff
from tests.conftest import MakeWorkspace, WorkspaceFixture

ADDED = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _setup(db: Session, workspace_id: int) -> tuple[int, int, int]:
    customer = Customer(workspace_id=workspace_id, custom_fields={}, name="客户")
    anna = Staff(workspace_id=workspace_id, name="Anna")
    bo = Staff(workspace_id=workspace_id, name="Bo")
    db.add_all([customer, anna, bo])
    db.commit()
    return customer.id, anna.id, bo.id


def test_follow_relation_lifecycle_over_http(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    customer_id, anna, bo = _setup(db, workspace.id)
    created = api.post(
        f"/api/v1/customers/{customer_id}/follow-relations",
        json={
            "staff_id": anna,
            "remark": "王姐",
            "added_at": ADDED.isoformat(),
            "add_way": "qr_code",
            "state": "store-01",
        },
    )
    assert created.status_code == 201, created.text
    relation = created.json()
    assert relation["staff_name"] == "Anna"
    assert relation["status"] == "active"
    api.post(f"/api/v1/customers/{customer_id}/follow-relations", json={"staff_id": bo})

    duplicate = api.post(
        f"/api/v1/customers/{customer_id}/follow-relations", json={"staff_id": anna}
    )
    assert duplicate.status_code == 409
    listed = api.get(f"/api/v1/customers/{customer_id}/follow-relations").json()
    assert [r["staff_name"] for r in listed] == ["Anna", "Bo"]

    changed = api.patch(
        f"/api/v1/follow-relations/{relation['id']}",
        json={"remark": "王女士", "status": "deleted_by_customer"},
    )
    assert changed.json()["remark"] == "王女士"
    assert api.get(f"/api/v1/staff/{anna}/customers").json()["items"] == []
    assert [c["id"] for c in api.get(f"/api/v1/staff/{bo}/customers").json()["items"]] == [
        customer_id
    ]

    assert api.delete(f"/api/v1/follow-relations/{relation['id']}").status_code == 204
    listed = api.get(f"/api/v1/customers/{customer_id}/follow-relations").json()
    assert [r["staff_name"] for r in listed] == ["Bo"]


def test_follow_relation_needs_a_staff_member_of_the_same_workspace(
    api: TestClient, db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    customer_id, _, _ = _setup(db, workspace.id)
    _, foreign_staff, _ = _setup(db, other.id)
    response = api.post(
        f"/api/v1/customers/{customer_id}/follow-relations", json={"staff_id": foreign_staff}
    )
    assert response.status_code == 404
    assert response.json()["error"]["details"]["field"] == "staff_id"
    assert api.get(f"/api/v1/staff/{foreign_staff}/customers").status_code == 404


def test_relations_of_another_workspace_are_not_found(
    api: TestClient, db: Session, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    customer_id, anna, _ = _setup(db, other.id)
    theirs = TestClient(api.app, headers=other.headers)
    relation = theirs.post(
        f"/api/v1/customers/{customer_id}/follow-relations", json={"staff_id": anna}
    ).json()
    assert api.get(f"/api/v1/customers/{customer_id}/follow-relations").status_code == 404
    assert api.patch(f"/api/v1/follow-relations/{relation['id']}", json={}).status_code == 404
    assert api.delete(f"/api/v1/follow-relations/{relation['id']}").status_code == 404
