from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.customers import custom_fields, merging, service
from siyu.customers.custom_fields import FieldType
from siyu.customers.follow import upsert_follow_relation
from siyu.customers.schemas import CustomerCreate, IdentityIn
from siyu.customers.stats import OrderStats, apply_order_stats, touch_last_active
from siyu.models import Event, Order, Staff
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _customer(
    db: Session,
    workspace_id: int,
    mobile: str = "13800138000",
    email: str | None = "wang@example.com",
) -> int:
    customer, _ = service.create_customer(
        db,
        workspace_id,
        CustomerCreate(
            name="王小明",
            email=email,
            identities=[IdentityIn(kind="mobile", value=mobile)],
        ),
        source="test",
        actor="test",
    )
    return customer.id


def _event(db: Session, workspace_id: int, customer_id: int, key: str, at: datetime) -> None:
    db.add(
        Event(
            workspace_id=workspace_id,
            customer_id=customer_id,
            event_key=key,
            event_type="page_view",
            occurred_at=at,
            properties={},
        )
    )


def _order(db: Session, workspace_id: int, customer_id: int, number: str, at: datetime) -> None:
    db.add(
        Order(
            workspace_id=workspace_id,
            customer_id=customer_id,
            platform="tmall",
            platform_order_id=number,
            status="paid",
            paid_fen=1000,
            ordered_at=at,
        )
    )


def test_360_shows_profile_fields_identities_relations_tags_stats_and_merges(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    custom_fields.create_field(
        db, workspace.id, key="level", label="等级", field_type=FieldType.CHOICE, options=["金"]
    )
    custom_fields.create_field(
        db, workspace.id, key="nick", label="昵称", field_type=FieldType.TEXT
    )
    customer_id = _customer(db, workspace.id)
    other = _customer(db, workspace.id, mobile="13900139000", email=None)
    merging.merge(db, workspace.id, customer_id, other, reason="same person", actor="test")
    service.update_profile(
        db, Principal.system(workspace.id), customer_id, {"custom_fields": {"level": "金"}}
    )
    anna = Staff(workspace_id=workspace.id, name="Anna")
    db.add(anna)
    db.flush()
    upsert_follow_relation(db, workspace.id, customer_id, anna.id, added_at=T0, remark="王姐")
    tag_ids = tags_service.ensure_tags(db, workspace.id, [("等级", "VIP")])
    tags_service.add_tags(
        db, workspace.id, [customer_id], list(tag_ids.values()), source="manual", actor="t"
    )
    apply_order_stats(db, workspace.id, {customer_id: OrderStats(3, 10_000, T0, T0)})
    touch_last_active(db, workspace.id, {customer_id: T0 + timedelta(days=1)})
    db.commit()

    body = api.get(f"/api/v1/customers/{customer_id}").json()
    assert body["profile"]["name"] == "王小明"
    assert body["custom_fields"] == [
        {"key": "level", "label": "等级", "field_type": "choice", "value": "金"},
        {"key": "nick", "label": "昵称", "field_type": "text", "value": None},
    ]
    assert {(i["kind"], i["value"]) for i in body["identities"]} == {
        ("mobile", "+8613800138000"),
        ("mobile", "+8613900139000"),
        ("email", "wang@example.com"),
    }
    assert [(r["staff_name"], r["remark"]) for r in body["follow_relations"]] == [("Anna", "王姐")]
    assert [(t["group_name"], t["tag_name"]) for t in body["tags"]] == [("等级", "VIP")]
    assert body["stats"]["order_count"] == 3
    assert body["stats"]["aov_fen"] == 3333
    assert body["stats"]["last_active_at"].startswith("2025-03-02")
    assert [(m["survivor_id"], m["merged_id"]) for m in body["merge_history"]] == [
        (customer_id, other)
    ]

    merged = api.get(f"/api/v1/customers/{other}")
    assert merged.status_code == 404
    assert merged.json()["error"]["details"] == {"merged_into_id": customer_id}


def test_viewer_sees_identities_and_contacts_masked(
    client: TestClient, db: Session, make_workspace: MakeWorkspace
) -> None:
    viewer = make_workspace(role=Role.VIEWER)
    customer_id = _customer(db, viewer.id)
    db.commit()
    body = client.get(f"/api/v1/customers/{customer_id}", headers=viewer.headers).json()
    assert body["profile"]["mobile"] == "+86138****8000"
    assert body["profile"]["email"] == "w***@example.com"
    assert {i["value"] for i in body["identities"]} == {"+86138****8000", "w***@example.com"}


def test_timeline_merges_events_orders_and_tag_changes_newest_first_across_pages(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    customer_id = _customer(db, workspace.id)
    _event(db, workspace.id, customer_id, "e1", T0)
    _order(db, workspace.id, customer_id, "o1", T0)  # same instant as e1: kind breaks the tie
    _event(db, workspace.id, customer_id, "e2", T0 + timedelta(hours=2))
    _event(db, workspace.id, customer_id, "e3", T0 + timedelta(hours=2))
    _order(db, workspace.id, customer_id, "o2", T0 + timedelta(hours=1))
    tag_ids = tags_service.ensure_tags(db, workspace.id, [("g", "a"), ("g", "b")])
    tags_service.add_tags(
        db, workspace.id, [customer_id], list(tag_ids.values()), source="manual", actor="t"
    )
    db.commit()

    everything = api.get(f"/api/v1/customers/{customer_id}/timeline", params={"limit": 50})
    full = [(e["kind"], e["occurred_at"], e["id"]) for e in everything.json()["items"]]
    assert len(full) == 7
    assert [k for k, _, _ in full] == [
        "tag_change",
        "tag_change",
        "event",
        "event",
        "order",
        "order",
        "event",
    ]
    assert everything.json()["next_cursor"] is None

    for limit in (1, 2, 3):
        paged: list[tuple[str, str, int]] = []
        cursor = None
        while True:
            page = api.get(
                f"/api/v1/customers/{customer_id}/timeline",
                params={"limit": limit, "cursor": cursor},
            ).json()
            assert len(page["items"]) <= limit
            paged += [(e["kind"], e["occurred_at"], e["id"]) for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert paged == full


def test_timeline_and_360_of_an_unfollowed_customer_are_not_found_for_staff(
    client: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    customer_id = _customer(db, workspace.id)
    staff = Staff(workspace_id=workspace.id, name="Anna")
    db.add(staff)
    db.flush()
    workspace_service.create_user(
        db,
        workspace_id=workspace.id,
        email="anna@example.com",
        name="Anna",
        password="anna password",
        role=Role.STAFF,
        staff_id=staff.id,
    )
    db.commit()
    login = client.post(
        "/api/v1/auth/login",
        json={
            "email": "anna@example.com",
            "password": "anna password",
            "workspace": workspace.slug,
        },
    )
    assert login.status_code == 200
    assert client.get(f"/api/v1/customers/{customer_id}").status_code == 404
    assert client.get(f"/api/v1/customers/{customer_id}/timeline").status_code == 404
    upsert_follow_relation(db, workspace.id, customer_id, staff.id, added_at=T0)
    db.commit()
    assert client.get(f"/api/v1/customers/{customer_id}").status_code == 200
    assert client.get(f"/api/v1/customers/{customer_id}/timeline").status_code == 200
