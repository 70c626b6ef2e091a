from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.customers import merging
from siyu.customers.follow import upsert_follow_relation
from siyu.models import Staff
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

PASSWORD = "member password"


def _login(client: TestClient, workspace: WorkspaceFixture, email: str) -> TestClient:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD, "workspace": workspace.slug},
    )
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def _customer(api: TestClient, name: str) -> int:
    customer_id: int = api.post("/api/v1/customers", json={"name": name}).json()["customer"]["id"]
    return customer_id


def _member(
    db: Session, workspace: WorkspaceFixture, email: str, role: Role, staff_id: int | None = None
) -> None:
    workspace_service.create_user(
        db,
        workspace_id=workspace.id,
        email=email,
        name=email.split("@", maxsplit=1)[0],
        password=PASSWORD,
        role=role,
        staff_id=staff_id,
    )


def test_note_is_listed_newest_first_and_shows_on_the_timeline(api: TestClient) -> None:
    customer_id = _customer(api, "王小明")
    first = api.post(
        f"/api/v1/customers/{customer_id}/follow-ups", json={"body": "  电话回访，约周五到店  "}
    )
    assert first.status_code == 201, first.text
    assert first.json()["body"] == "电话回访，约周五到店"
    assert first.json()["author_name"] == "tests"
    api.post(f"/api/v1/customers/{customer_id}/follow-ups", json={"body": "已到店\n买了两件"})

    listed = api.get(f"/api/v1/customers/{customer_id}/follow-ups").json()
    assert [n["body"] for n in listed["items"]] == ["已到店\n买了两件", "电话回访，约周五到店"]

    timeline = api.get(f"/api/v1/customers/{customer_id}/timeline").json()["items"]
    notes = [e for e in timeline if e["kind"] == "follow_up"]
    assert [n["data"]["body"] for n in notes] == ["已到店\n买了两件", "电话回访，约周五到店"]
    assert notes[0]["title"] == "跟进记录：已到店…"
    assert notes[1]["title"] == "跟进记录：电话回访，约周五到店"


def test_timeline_pages_through_notes_without_gaps_or_repeats(api: TestClient) -> None:
    customer_id = _customer(api, "甲")
    bodies = [f"第{i}次跟进" for i in range(5)]
    for body in bodies:
        api.post(f"/api/v1/customers/{customer_id}/follow-ups", json={"body": body})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get(f"/api/v1/customers/{customer_id}/timeline", params=params).json()
        seen += [e["data"]["body"] for e in page["items"] if e["kind"] == "follow_up"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(bodies))
    listed: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = api.get(f"/api/v1/customers/{customer_id}/follow-ups", params=params).json()
        listed += [n["body"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed == list(reversed(bodies))


def test_empty_and_too_long_notes_are_refused_naming_the_body(api: TestClient) -> None:
    customer_id = _customer(api, "甲")
    for body in ("   ", "长" * 2001, ""):
        response = api.post(f"/api/v1/customers/{customer_id}/follow-ups", json={"body": body})
        assert response.status_code == 422, body
        assert response.json()["error"]["details"]["field"] == "body"
    exact = api.post(f"/api/v1/customers/{customer_id}/follow-ups", json={"body": "长" * 2000})
    assert exact.status_code == 201


def test_staff_write_for_followed_customers_only_and_viewers_cannot_write(
    client: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    admin = TestClient(client.app, headers=workspace.headers)
    mine = _customer(admin, "mine")
    other = _customer(admin, "other")
    staff = Staff(workspace_id=workspace.id, name="安娜")
    db.add(staff)
    db.flush()
    upsert_follow_relation(db, workspace.id, mine, staff.id, added_at=datetime.now(UTC))
    _member(db, workspace, "anna@example.com", Role.STAFF, staff.id)
    _member(db, workspace, "viewer@example.com", Role.VIEWER)
    db.commit()

    anna = _login(client, workspace, "anna@example.com")
    written = anna.post(f"/api/v1/customers/{mine}/follow-ups", json={"body": "加了微信"})
    assert written.status_code == 201
    assert written.json()["author_name"] == "安娜"
    assert written.json()["author_staff_id"] == staff.id
    refused = anna.post(f"/api/v1/customers/{other}/follow-ups", json={"body": "x"})
    assert refused.status_code == 404
    assert anna.get(f"/api/v1/customers/{other}/follow-ups").status_code == 404

    viewer = _login(TestClient(client.app), workspace, "viewer@example.com")
    assert (
        viewer.post(f"/api/v1/customers/{mine}/follow-ups", json={"body": "x"}).status_code == 403
    )
    seen = viewer.get(f"/api/v1/customers/{mine}/follow-ups").json()["items"]
    assert [n["body"] for n in seen] == ["加了微信"]


def test_other_workspaces_neither_see_nor_write_notes(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    customer_id = _customer(api, "甲")
    api.post(f"/api/v1/customers/{customer_id}/follow-ups", json={"body": "秘密"})
    other = make_workspace()
    path = f"/api/v1/customers/{customer_id}/follow-ups"
    assert client.get(path, headers=other.headers).status_code == 404
    assert client.post(path, json={"body": "x"}, headers=other.headers).status_code == 404
    assert len(api.get(path).json()["items"]) == 1


def test_merge_moves_notes_to_the_survivor_and_unmerge_brings_them_back(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    survivor = _customer(api, "甲")
    merged = _customer(api, "乙")
    api.post(f"/api/v1/customers/{merged}/follow-ups", json={"body": "乙的记录"})
    record = merging.merge(db, workspace.id, survivor, merged, reason="same", actor="test")
    db.commit()
    notes = api.get(f"/api/v1/customers/{survivor}/follow-ups").json()["items"]
    assert [n["body"] for n in notes] == ["乙的记录"]
    merging.unmerge(db, workspace.id, record.id, actor="test")
    db.commit()
    assert api.get(f"/api/v1/customers/{survivor}/follow-ups").json()["items"] == []
    back = api.get(f"/api/v1/customers/{merged}/follow-ups").json()["items"]
    assert [n["body"] for n in back] == ["乙的记录"]
