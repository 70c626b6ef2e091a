from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.customers import custom_fields
from siyu.customers.custom_fields import FieldType
from siyu.customers.follow import upsert_follow_relation
from siyu.models import Customer, Staff
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _customer(db: Session, workspace_id: int, **values: Any) -> Customer:
    values.setdefault("created_at", T0)
    mobile = values.get("mobile")
    if mobile:
        values["mobile_last4"] = mobile[-4:]
    customer = Customer(workspace_id=workspace_id, custom_fields={}, **values)
    db.add(customer)
    db.flush()
    return customer


def _staff(db: Session, workspace_id: int, name: str) -> Staff:
    staff = Staff(workspace_id=workspace_id, name=name)
    db.add(staff)
    db.flush()
    return staff


def _ids(api: TestClient, **params: Any) -> list[int]:
    response = api.get("/api/v1/customers", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _all_pages(api: TestClient, **params: Any) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(50):
        response = api.get("/api/v1/customers", params={**params, "cursor": cursor})
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= params["limit"]
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_pages_cover_every_customer_once_when_sort_values_tie(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    ids = [_customer(db, workspace.id, name=f"c{i}").id for i in range(7)]
    later = _customer(db, workspace.id, name="later", created_at=T0 + timedelta(hours=1)).id
    db.commit()
    assert _all_pages(api, limit=3) == [later, *sorted(ids, reverse=True)]
    assert _all_pages(api, limit=3, sort="created_at") == [*sorted(ids), later]


def test_total_paid_sort_pages_through_ties(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    paid = [500, 100, 500, 300, 500, 100]
    ids = [_customer(db, workspace.id, total_paid_fen=p).id for p in paid]
    db.commit()
    expected = [i for _, i in sorted(zip(paid, ids, strict=True), reverse=True)]
    assert _all_pages(api, limit=2, sort="-total_paid_fen") == expected


@pytest.mark.parametrize("descending", [True, False])
def test_customers_without_a_sort_value_come_last_on_every_page(
    api: TestClient, db: Session, workspace: WorkspaceFixture, descending: bool
) -> None:
    dated = [
        _customer(db, workspace.id, last_order_at=T0 + timedelta(days=d)).id for d in (2, 1, 2, 3)
    ]
    undated = [_customer(db, workspace.id).id for _ in range(3)]
    db.commit()
    days = {dated[0]: 2, dated[1]: 1, dated[2]: 2, dated[3]: 3}
    ordered = sorted(dated, key=lambda i: (days[i], i), reverse=descending)
    tail = sorted(undated, reverse=descending)
    sort = "-last_order_at" if descending else "last_order_at"
    for limit in (1, 2, 3, 4, 10):
        assert _all_pages(api, limit=limit, sort=sort) == ordered + tail


def test_search_by_name_prefix_remark_prefix_and_mobile(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    wang = _customer(db, workspace.id, name="王小明", mobile="+8613800138000").id
    wang_li = _customer(db, workspace.id, name="王丽", remark="VIP 老客").id
    li = _customer(db, workspace.id, name="李雷", remark="王府井门店", mobile="+8613900008000").id
    percent = _customer(db, workspace.id, name="100%纯棉").id
    db.commit()
    assert set(_ids(api, q="王")) == {wang, wang_li, li}
    assert _ids(api, q="王小") == [wang]
    assert _ids(api, q="VIP") == [wang_li]
    assert _ids(api, q="小明") == []  # a prefix, not a substring: the index serves it
    assert _ids(api, q="8000") == [li, wang]
    assert _ids(api, q="138 0013 8000") == [wang]
    assert _ids(api, q="+86 139-0000-8000") == [li]
    assert _ids(api, q="100%") == [percent]
    assert _ids(api, q="10_") == []


def test_filter_by_all_tags_or_any_tag(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    a, b, c = (_customer(db, workspace.id).id for _ in range(3))
    tags = tags_service.ensure_tags(db, workspace.id, [("兴趣", "跑步"), ("兴趣", "读书")])
    run, read = tags[("兴趣", "跑步")], tags[("兴趣", "读书")]
    tags_service.add_tags(db, workspace.id, [a, b], [run], source="manual", actor="t")
    tags_service.add_tags(db, workspace.id, [a, c], [read], source="manual", actor="t")
    db.commit()
    assert _ids(api, tag_ids=[run, read]) == [a]
    assert _ids(api, tag_ids=[run]) == [b, a]
    assert _ids(api, any_tag_ids=[run, read]) == [c, b, a]


def test_filter_by_staff_stage_source_and_dates(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    old = _customer(db, workspace.id, lifecycle_stage="lead", source="taobao")
    new = _customer(
        db,
        workspace.id,
        lifecycle_stage="customer",
        source="wecom",
        created_at=T0 + timedelta(days=10),
        last_active_at=T0 + timedelta(days=12),
        last_order_at=T0 + timedelta(days=11),
    )
    anna = _staff(db, workspace.id, "Anna")
    upsert_follow_relation(db, workspace.id, new.id, anna.id, added_at=T0)
    upsert_follow_relation(
        db, workspace.id, old.id, anna.id, added_at=T0, status="deleted_by_staff"
    )
    db.commit()
    assert _ids(api, staff_id=anna.id) == [new.id]
    assert _ids(api, stage="lead") == [old.id]
    assert _ids(api, source="wecom") == [new.id]
    since = (T0 + timedelta(days=1)).isoformat()
    assert _ids(api, created_from=since) == [new.id]
    assert _ids(api, created_to=since) == [old.id]
    assert _ids(api, last_order_from=since) == [new.id]
    assert _ids(api, last_active_to=since) == []
    refused = api.get("/api/v1/customers", params={"created_from": since, "created_to": since})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "created_to"


def test_filter_by_custom_field_values(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    custom_fields.create_field(
        db,
        workspace.id,
        key="level",
        label="等级",
        field_type=FieldType.CHOICE,
        options=["金", "银"],
    )
    custom_fields.create_field(
        db, workspace.id, key="height", label="身高", field_type=FieldType.NUMBER
    )
    custom_fields.create_field(
        db,
        workspace.id,
        key="hobbies",
        label="爱好",
        field_type=FieldType.MULTI_CHOICE,
        options=["跑步", "读书"],
    )
    gold = _customer(db, workspace.id)
    gold.custom_fields = {"level": "金", "height": 170, "hobbies": ["跑步", "读书"]}
    silver = _customer(db, workspace.id)
    silver.custom_fields = {"level": "银", "height": 180.5, "hobbies": ["读书"]}
    db.commit()
    assert _ids(api, **{"cf.level": "金"}) == [gold.id]
    assert _ids(api, **{"cf.height": "180.5"}) == [silver.id]
    assert _ids(api, **{"cf.height": "170"}) == [gold.id]
    assert _ids(api, **{"cf.hobbies": "跑步"}) == [gold.id]
    assert _ids(api, **{"cf.hobbies": "读书"}) == [silver.id, gold.id]
    assert _ids(api, custom_fields='{"level": "银", "hobbies": "读书"}') == [silver.id]

    unknown = api.get("/api/v1/customers", params={"cf.shoe": "42"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["field"] == "cf.shoe"
    wrong = api.get("/api/v1/customers", params={"cf.level": "铜"})
    assert wrong.json()["error"]["details"]["field"] == "cf.level"


def test_merged_and_other_workspaces_customers_are_not_listed(
    api: TestClient, db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    survivor = _customer(db, workspace.id)
    _customer(db, workspace.id, merged_into_id=survivor.id)
    _customer(db, other.id)
    db.commit()
    assert _ids(api) == [survivor.id]


def test_bad_sort_limit_and_cursor_name_the_parameter(api: TestClient) -> None:
    for params, field in (
        ({"sort": "name"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        response = api.get("/api/v1/customers", params=params)
        assert response.status_code == 422
        assert response.json()["error"]["details"]["field"] == field


@pytest.fixture
def staff_login(app: FastAPI, db: Session) -> Iterator[Any]:
    clients: list[TestClient] = []

    def login(
        workspace: WorkspaceFixture, staff_id: int | None, role: Role = Role.STAFF
    ) -> TestClient:
        email = f"{role.value}{len(clients)}@{workspace.slug}.example.com"
        workspace_service.create_user(
            db,
            workspace_id=workspace.id,
            email=email,
            name="员工",
            password="staff password",
            role=role,
            staff_id=staff_id,
        )
        db.commit()
        client = TestClient(app)
        clients.append(client)
        response = client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": "staff password", "workspace": workspace.slug},
        )
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    yield login
    for client in clients:
        client.close()


def test_staff_sees_only_customers_they_follow(
    db: Session, workspace: WorkspaceFixture, staff_login: Any
) -> None:
    mine = _customer(db, workspace.id, name="mine")
    _customer(db, workspace.id, name="theirs")
    me, colleague = _staff(db, workspace.id, "Me"), _staff(db, workspace.id, "Colleague")
    upsert_follow_relation(db, workspace.id, mine.id, me.id, added_at=T0)
    db.commit()
    client = staff_login(workspace, me.id)
    assert _ids(client) == [mine.id]
    assert _ids(client, staff_id=colleague.id) == []
    unlinked = staff_login(workspace, None)
    assert _ids(unlinked) == []


def test_viewer_sees_mobile_and_email_masked(
    db: Session, workspace: WorkspaceFixture, staff_login: Any, api: TestClient
) -> None:
    _customer(db, workspace.id, mobile="+8613800138000", email="wang@example.com")
    db.commit()
    viewer = staff_login(workspace, None, Role.VIEWER)
    item = viewer.get("/api/v1/customers").json()["items"][0]
    assert item["mobile"] == "+86138****8000"
    assert item["email"] == "w***@example.com"
    full = api.get("/api/v1/customers").json()["items"][0]
    assert full["mobile"] == "+8613800138000"
    assert full["email"] == "wang@example.com"
