from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.customers import custom_fields
from siyu.customers.custom_fields import FieldType
from siyu.customers.follow import upsert_follow_relation
from siyu.models import AuditEntry, Staff
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture


def test_create_reports_created_then_matched_for_the_same_identity(api: TestClient) -> None:
    body = {"name": "王小明", "identities": [{"kind": "mobile", "value": "13800138000"}]}
    first = api.post("/api/v1/customers", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    assert first.json()["customer"]["mobile"] == "+8613800138000"
    again = api.post("/api/v1/customers", json={**body, "name": "别名"})
    assert again.json()["created"] is False
    assert again.json()["customer"]["id"] == first.json()["customer"]["id"]
    assert again.json()["customer"]["name"] == "王小明"


def test_invalid_identity_and_profile_fields_are_named(api: TestClient) -> None:
    response = api.post(
        "/api/v1/customers", json={"identities": [{"kind": "mobile", "value": "123"}]}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "identities[0].value"
    response = api.post("/api/v1/customers", json={"gender": "robot"})
    assert response.json()["error"]["details"]["field"] == "gender"


def test_patch_validates_custom_fields_against_their_definitions(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    custom_fields.create_field(
        db, workspace.id, key="level", label="等级", field_type=FieldType.CHOICE, options=["金"]
    )
    db.commit()
    customer_id = api.post("/api/v1/customers", json={"name": "甲"}).json()["customer"]["id"]
    refused = api.patch(f"/api/v1/customers/{customer_id}", json={"custom_fields": {"level": "铜"}})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "custom_fields.level"
    changed = api.patch(
        f"/api/v1/customers/{customer_id}",
        json={"custom_fields": {"level": "金"}, "lifecycle_stage": "customer", "remark": "老客"},
    )
    assert changed.status_code == 200
    assert changed.json()["custom_fields"] == {"level": "金"}
    assert changed.json()["lifecycle_stage"] == "customer"


def _login(client: TestClient, workspace: WorkspaceFixture, email: str) -> None:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": "member password", "workspace": workspace.slug},
    )
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]


def test_staff_edits_only_followed_customers_and_viewers_cannot_edit(
    client: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    admin = TestClient(client.app, headers=workspace.headers)
    mine = admin.post("/api/v1/customers", json={"name": "mine"}).json()["customer"]["id"]
    other = admin.post("/api/v1/customers", json={"name": "other"}).json()["customer"]["id"]
    staff = Staff(workspace_id=workspace.id, name="Anna")
    db.add(staff)
    db.flush()
    upsert_follow_relation(db, workspace.id, mine, staff.id, added_at=datetime.now(UTC))
    for email, role, staff_id in (
        ("staff@example.com", Role.STAFF, staff.id),
        ("viewer@example.com", Role.VIEWER, None),
    ):
        workspace_service.create_user(
            db,
            workspace_id=workspace.id,
            email=email,
            name=email,
            password="member password",
            role=role,
            staff_id=staff_id,
        )
    db.commit()

    _login(client, workspace, "staff@example.com")
    assert client.patch(f"/api/v1/customers/{mine}", json={"remark": "跟进中"}).status_code == 200
    assert client.patch(f"/api/v1/customers/{other}", json={"remark": "x"}).status_code == 404
    assert client.delete(f"/api/v1/customers/{mine}").status_code == 403

    viewer = TestClient(client.app)
    _login(viewer, workspace, "viewer@example.com")
    assert viewer.patch(f"/api/v1/customers/{mine}", json={"remark": "x"}).status_code == 403


def test_admin_deletes_a_customer_and_the_delete_is_audited(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    customer_id = api.post("/api/v1/customers", json={"name": "甲"}).json()["customer"]["id"]
    assert api.delete(f"/api/v1/customers/{customer_id}").status_code == 204
    assert api.get(f"/api/v1/customers/{customer_id}").status_code == 404
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "customer.delete")).one()
    assert entry.target_id == str(customer_id)


def test_operator_cannot_delete_and_other_workspaces_cannot_see(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    operator = make_workspace(role=Role.OPERATOR)
    customer_id = api.post("/api/v1/customers", json={"name": "甲"}).json()["customer"]["id"]
    assert (
        client.delete(f"/api/v1/customers/{customer_id}", headers=operator.headers).status_code
        == 403
    )
    for method, path in (
        ("GET", f"/api/v1/customers/{customer_id}"),
        ("GET", f"/api/v1/customers/{customer_id}/timeline"),
    ):
        assert client.request(method, path, headers=operator.headers).status_code == 404
    patch = client.patch(
        f"/api/v1/customers/{customer_id}", json={"name": "x"}, headers=operator.headers
    )
    assert patch.status_code == 404
