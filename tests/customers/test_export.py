import codecs
import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from siyu.customers import export
from siyu.customers.follow import upsert_follow_relation
from siyu.models import AuditEntry, Customer, CustomerTag, Staff, Tag, TagGroup
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture, commit_beside

T0 = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 March in Shanghai


def _customer(db: Session, workspace_id: int, name: str, **values: object) -> Customer:
    mobile = values.get("mobile")
    customer = Customer(
        workspace_id=workspace_id,
        name=name,
        custom_fields={},
        created_at=T0,
        mobile_last4=str(mobile)[-4:] if mobile else None,
        **values,
    )
    db.add(customer)
    db.flush()
    return customer


def _tag(db: Session, workspace_id: int, customers: list[Customer]) -> int:
    group = TagGroup(workspace_id=workspace_id, name="兴趣")
    db.add(group)
    db.flush()
    tag = Tag(workspace_id=workspace_id, group_id=group.id, name="护肤")
    db.add(tag)
    db.flush()
    db.add_all(
        CustomerTag(workspace_id=workspace_id, customer_id=c.id, tag_id=tag.id, source="manual")
        for c in customers
    )
    db.flush()
    return tag.id


def _rows(response_bytes: bytes) -> list[dict[str, str]]:
    assert response_bytes.startswith(codecs.BOM_UTF8)
    return list(csv.DictReader(io.StringIO(response_bytes.decode("utf-8-sig"))))


def _audits(db: Session, workspace_id: int) -> list[AuditEntry]:
    db.expire_all()
    entries = list(
        db.scalars(
            select(AuditEntry).where(
                AuditEntry.workspace_id == workspace_id, AuditEntry.action == "customers.export"
            )
        )
    )
    db.commit()  # ends the transaction (and its SQLite write lock); the entries stay loaded
    return entries


def test_export_is_csv_with_bom_chinese_headers_and_the_filtered_customers(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    wang = _customer(
        db,
        workspace.id,
        "王小明",
        mobile="+8613800138000",
        email="wang@example.com",
        gender="male",
        total_paid_fen=12345,
        order_count=2,
        remark="喜欢, 逗号",
    )
    _customer(db, workspace.id, "李四")
    tag_id = _tag(db, workspace.id, [wang])
    db.commit()

    response = api.get("/api/v1/customers/export", params={"tag_ids": [tag_id]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = _rows(response.content)
    assert [row["姓名"] for row in rows] == ["王小明"]
    row = rows[0]
    assert list(row)[:3] == ["ID", "姓名", "手机号"]
    assert row["ID"] == str(wang.id)
    assert row["手机号"] == "+8613800138000"
    assert row["邮箱"] == "wang@example.com"
    assert row["性别"] == "男"
    assert row["累计实付(元)"] == "123.45"
    assert row["订单数"] == "2"
    assert row["创建时间"] == "2026-03-02 00:30:00"
    assert row["备注"] == "喜欢, 逗号"
    assert row["最近下单"] == ""


def test_export_pages_through_every_matching_customer(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    for i in range(450):
        _customer(db, workspace.id, f"客户{i:03d}")
    db.commit()
    rows = _rows(api.get("/api/v1/customers/export", params={"sort": "created_at"}).content)
    assert len(rows) == 450
    assert len({row["ID"] for row in rows}) == 450


def test_viewer_export_masks_mobiles_and_emails(
    client: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    _customer(db, workspace.id, "王小明", mobile="+8613800138000", email="wang@example.com")
    key = workspace_service.create_api_key(
        db, workspace_id=workspace.id, name="viewer", role=Role.VIEWER
    )
    db.commit()
    response = client.get(
        "/api/v1/customers/export", headers={"Authorization": f"Bearer {key.plaintext}"}
    )
    row = _rows(response.content)[0]
    assert row["手机号"] == "+86138****8000"
    assert row["邮箱"] == "w***@example.com"


def test_export_is_audited_with_its_filter_and_row_count(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    _customer(db, workspace.id, "王小明")
    _customer(db, workspace.id, "王大明")
    _customer(db, workspace.id, "李四")
    db.commit()
    api.get("/api/v1/customers/export", params={"q": "王"})
    (entry,) = _audits(db, workspace.id)
    assert entry.details == {"filter": {"q": "王"}, "rows": 2}
    assert entry.actor_api_key_id is not None


def test_invalid_filter_exports_nothing_and_audits_nothing(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    response = api.get(
        "/api/v1/customers/export",
        params={"created_from": "2026-03-02T00:00:00Z", "created_to": "2026-03-01T00:00:00Z"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "created_to"
    assert _audits(db, workspace.id) == []


def test_export_leaves_out_other_workspaces(
    api: TestClient, db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    _customer(db, workspace.id, "我的")
    _customer(db, other.id, "别人的")
    db.commit()
    rows = _rows(api.get("/api/v1/customers/export").content)
    assert [row["姓名"] for row in rows] == ["我的"]


def test_large_export_runs_as_a_job_and_serves_the_file(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    make_workspace: MakeWorkspace,
    run_jobs: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "INLINE_EXPORT_LIMIT", 2)
    other = make_workspace()
    for name in ("甲", "乙", "丙"):
        _customer(db, workspace.id, name, mobile="+8613800138000")
    db.commit()
    response = api.get("/api/v1/customers/export")
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["rows"] == 3
    assert api.get(queued["download_url"]).status_code == 404  # not written yet
    assert run_jobs() == 1
    job = api.get(f"/api/v1/jobs/{queued['job_id']}").json()
    assert job["status"] == "succeeded"
    assert (job["progress_done"], job["progress_total"]) == (3, 3)
    download = api.get(queued["download_url"])
    assert download.status_code == 200
    assert sorted(row["姓名"] for row in _rows(download.content)) == ["丙", "乙", "甲"]
    (entry,) = _audits(db, workspace.id)
    assert entry.details == {"filter": {}, "rows": 3}
    assert entry.target_id == str(queued["job_id"])
    elsewhere = api.get(queued["download_url"], headers=other.headers)
    assert elsewhere.status_code == 404


def test_count_matches_the_list_filters(
    api: TestClient, db: Session, workspace: WorkspaceFixture
) -> None:
    tagged = [_customer(db, workspace.id, f"王{i}") for i in range(3)]
    _customer(db, workspace.id, "李四")
    tag_id = _tag(db, workspace.id, tagged[:2])
    db.commit()
    assert api.get("/api/v1/customers/count").json() == {"count": 4}
    assert api.get("/api/v1/customers/count", params={"q": "王"}).json() == {"count": 3}
    count = api.get("/api/v1/customers/count", params={"q": "王", "tag_ids": [tag_id]})
    assert count.json() == {"count": 2}
    bad = api.get("/api/v1/customers/count", params={"sort": "nonsense"})
    assert bad.status_code == 422


def test_staff_member_exports_only_the_customers_they_follow(
    app: FastAPI, db: Session, workspace: WorkspaceFixture
) -> None:
    mine = _customer(db, workspace.id, "我的客户")
    _customer(db, workspace.id, "同事的客户")
    me = Staff(workspace_id=workspace.id, name="我")
    db.add(me)
    db.flush()
    upsert_follow_relation(db, workspace.id, mine.id, me.id, added_at=T0)
    email = f"staff@{workspace.slug}.example.com"
    workspace_service.create_user(
        db,
        workspace_id=workspace.id,
        email=email,
        name="员工",
        password="staff password",
        role=Role.STAFF,
        staff_id=me.id,
    )
    db.commit()
    with TestClient(app) as staff:
        login = staff.post(
            "/api/v1/auth/login",
            json={"email": email, "password": "staff password", "workspace": workspace.slug},
        )
        assert login.status_code == 200, login.text
        response = staff.get("/api/v1/customers/export")
        assert [row["姓名"] for row in _rows(response.content)] == ["我的客户"]
        assert staff.get("/api/v1/customers/count").json() == {"count": 1}
    (entry,) = _audits(db, workspace.id)
    assert entry.actor_user_id is not None
    assert entry.details["rows"] == 1


def test_export_is_audited_while_others_write(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The export counts, then writes its audit entry: another writer committing in between
    must neither fail the export nor be lost (on SQLite a read that turns into a write
    after someone else committed is refused)."""
    _customer(db, workspace.id, "王小明")
    db.commit()
    counted = export.count_customers
    other_writer: list[threading.Thread] = []

    def count_then_another_writes(*args: Any, **kwargs: Any) -> int:
        rows = counted(*args, **kwargs)
        other_writer.append(commit_beside(engine, update(Customer).values(remark="跟进")))
        return rows

    monkeypatch.setattr(export, "count_customers", count_then_another_writes)
    api.get("/api/v1/customers")  # the key's first use is recorded (a write) before
    response = api.get("/api/v1/customers/export", params={"q": "王"})
    other_writer[0].join()
    assert response.status_code == 200, response.text
    assert [r["姓名"] for r in _rows(response.content)] == ["王小明"]
    assert len(_audits(db, workspace.id)) == 1
    assert db.scalar(select(Customer.remark)) == "跟进"
