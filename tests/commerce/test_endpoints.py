import codecs
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.commerce import imports, service
from siyu.commerce.schemas import OrderIn
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.connectors.commerce.samples import GENERIC, TMALL, Sample

RunJobs = Callable[[], int]


def upload(api: TestClient, path: Path) -> dict:  # type: ignore[type-arg]
    with path.open("rb") as handle:
        response = api.post("/api/v1/imports/orders", files={"file": (path.name, handle)})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def api_order(order_id: str, **fields: object) -> dict[str, object]:
    return {
        "platform": "youzan",
        "platform_order_id": order_id,
        "status": "paid",
        "ordered_at": "2024-06-01T20:00:00",
        "paid_fen": 12800,
        "buyer_id": "yz_1",
        "receiver_mobile": "13600136000",
        **fields,
    }


def test_import_wizard_offers_the_order_fields_and_platforms_the_importer_knows(
    api: TestClient,
) -> None:
    shown = api.get("/api/v1/imports/orders/fields")

    assert shown.status_code == 200
    fields = shown.json()["fields"]
    assert [f["name"] for f in fields][:3] == ["order_id", "status", "ordered_at"]
    assert {f["name"] for f in fields if f["required"]} == {
        "order_id",
        "status",
        "ordered_at",
        "paid",
    }
    assert {"name": "paid", "label": "实付金额", "required": True} in fields
    platforms = {p["name"]: p["label"] for p in shown.json()["platforms"]}
    assert platforms["pdd"] == "拼多多"
    assert "generic" in platforms


def test_import_wizard_uploads_detects_previews_runs_and_reports_errors(
    api: TestClient, run_jobs: RunJobs, tmp_path: Path
) -> None:
    rows = [list(r) for r in TMALL.rows]
    rows[2][7] = "神秘状态"
    path = Sample("tmall", TMALL.headers, rows).write(tmp_path, "gbk")

    uploaded = upload(api, path)

    assert uploaded["detected_platform"] == "tmall"
    assert uploaded["encoding"] == "gb18030"
    assert uploaded["status"] == "uploaded"
    assert uploaded["headers"] == TMALL.headers
    assert uploaded["suggested_mapping"]["paid"] == "买家实际支付金额"
    assert len(uploaded["preview"]) == 3
    assert uploaded["preview"][0][1] == "tb_zhangsan"
    import_id = uploaded["id"]

    started = api.post(f"/api/v1/imports/{import_id}/run")
    assert started.status_code == 202
    assert started.json()["status"] == "queued"
    assert run_jobs() == 1

    done = api.get(f"/api/v1/imports/{import_id}").json()
    assert done["status"] == "succeeded"
    assert (done["imported"], done["updated"], done["failed"]) == (2, 0, 1)
    assert done["has_errors"] is True
    errors = api.get(f"/api/v1/imports/{import_id}/errors")
    assert errors.status_code == 200
    assert errors.headers["content-type"].startswith("text/csv")
    assert errors.content.startswith(codecs.BOM_UTF8)
    assert errors.content.decode("utf-8-sig").splitlines()[1].startswith("4,订单状态,unknown")
    listed = api.get("/api/v1/imports", params={"kind": "orders"}).json()
    assert [i["id"] for i in listed["items"]] == [import_id]
    orders = api.get("/api/v1/orders", params={"platform": "tmall"}).json()["items"]
    assert {o["platform_order_id"] for o in orders} == {"3210000000000001", "3210000000000002"}


def test_a_file_of_unknown_layout_is_imported_after_its_mapping_is_edited(
    api: TestClient, run_jobs: RunJobs, tmp_path: Path
) -> None:
    headers = ["单号", "状态", "时间", "金额", "手机"]
    path = Sample("own", headers, [["K-1", "已付款", "2024-06-01 08:00", "50", ""]]).write(
        tmp_path, "utf-8-sig"
    )
    uploaded = upload(api, path)
    assert uploaded["detected_platform"] is None
    import_id = uploaded["id"]

    unmapped = api.post(f"/api/v1/imports/{import_id}/run")
    assert unmapped.status_code == 422
    assert unmapped.json()["error"]["details"]["field"] == "platform"
    missing = api.put(
        f"/api/v1/imports/{import_id}/mapping",
        json={"platform": "generic", "columns": {"order_id": "单号", "status": "状态"}},
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["details"]["field"] == "columns.ordered_at"
    mapping = {"order_id": "单号", "status": "状态", "ordered_at": "时间", "paid": "金额"}
    edited = api.put(
        f"/api/v1/imports/{import_id}/mapping",
        json={"platform": "generic", "columns": mapping, "statuses": {"已付款": "paid"}},
    )
    assert edited.status_code == 200, edited.text
    assert api.post(f"/api/v1/imports/{import_id}/run").status_code == 202
    run_jobs()

    assert api.get(f"/api/v1/imports/{import_id}").json()["imported"] == 1
    order = api.get("/api/v1/orders").json()["items"][0]
    assert (order["platform"], order["paid_fen"], order["status"]) == ("generic", 5000, "paid")
    late = api.put(
        f"/api/v1/imports/{import_id}/mapping",
        json=edited.json()["mapping"] | {"platform": "generic"},
    )
    assert late.status_code == 409


def test_an_upload_over_the_size_limit_is_refused_with_413(
    api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 100)
    path = GENERIC.write(tmp_path, "utf-8")

    with path.open("rb") as handle:
        response = api.post("/api/v1/imports/orders", files={"file": ("big.csv", handle)})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert api.get("/api/v1/imports").json()["items"] == []


def test_an_unreadable_upload_is_refused_naming_the_file(api: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"PK\x03\x04 broken")

    with path.open("rb") as handle:
        response = api.post("/api/v1/imports/orders", files={"file": (path.name, handle)})

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "file"


def test_orders_api_upserts_lists_with_filters_and_pages(api: TestClient) -> None:
    single = api.post("/api/v1/orders", json=api_order("Y1"))
    assert single.status_code == 200, single.text
    assert single.json()["imported"] == 1
    batch = api.post(
        "/api/v1/orders",
        json={
            "orders": [
                api_order("Y1", status="completed"),
                api_order("Y2", ordered_at="2024-06-02T20:00:00"),
                api_order("Y3", ordered_at="2024-06-03T20:00:00", status="cancelled"),
            ]
        },
    )
    assert (batch.json()["imported"], batch.json()["updated"]) == (2, 1)

    first = api.get("/api/v1/orders", params={"limit": 2}).json()
    second = api.get("/api/v1/orders", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [o["platform_order_id"] for o in first["items"] + second["items"]] == ["Y3", "Y2", "Y1"]
    assert second["next_cursor"] is None
    completed = api.get("/api/v1/orders", params={"status": "completed"}).json()["items"]
    assert [o["platform_order_id"] for o in completed] == ["Y1"]
    ranged = api.get(
        "/api/v1/orders",
        params={"ordered_from": "2024-06-02T00:00:00+08:00", "ordered_to": "2024-06-03T00:00:00"},
    ).json()["items"]
    assert [o["platform_order_id"] for o in ranged] == ["Y2"]
    customer_id = completed[0]["customer_id"]
    mine = api.get("/api/v1/orders", params={"customer_id": customer_id}).json()["items"]
    assert len(mine) == 3


def test_an_invalid_order_is_refused_naming_the_field(api: TestClient) -> None:
    response = api.post("/api/v1/orders", json={"orders": [api_order("Y1", paid_fen=-1)]})

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "orders.0.paid_fen"


def test_order_detail_shows_items_and_refunds_and_a_refund_can_be_added(api: TestClient) -> None:
    created = api.post(
        "/api/v1/orders",
        json=api_order("Y1", items=[{"name": "护手霜", "quantity": 2, "amount_fen": 12800}]),
    ).json()
    order_id = created["order_ids"][0]

    refund = api.post(
        f"/api/v1/orders/{order_id}/refunds", json={"amount_fen": 6400, "reason": "破损"}
    )
    too_much = api.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_fen": 6401})

    assert refund.status_code == 201
    assert too_much.status_code == 422
    detail = api.get(f"/api/v1/orders/{order_id}").json()
    assert detail["refunded_fen"] == 6400
    assert [(i["name"], i["quantity"]) for i in detail["items"]] == [("护手霜", 2)]
    assert [(r["amount_fen"], r["reason"]) for r in detail["refunds"]] == [(6400, "破损")]


def test_viewers_read_orders_with_masked_mobiles_and_cannot_write(
    client: TestClient, db: Session, make_workspace: MakeWorkspace
) -> None:
    viewer = make_workspace(role=Role.VIEWER)
    service.upsert_orders(
        db, viewer.id, [OrderIn.model_validate(api_order("Y1"))], source="test", actor="test"
    )
    db.commit()
    client.headers.update(viewer.headers)

    listed = client.get("/api/v1/orders").json()["items"]
    refused = client.post("/api/v1/orders", json=api_order("Y2"))

    assert listed[0]["receiver_mobile"] == "+86136****6000"
    assert refused.status_code == 403


def test_orders_and_imports_of_another_workspace_are_not_found(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace, tmp_path: Path
) -> None:
    order_id = api.post("/api/v1/orders", json=api_order("Y1")).json()["order_ids"][0]
    import_id = upload(api, GENERIC.write(tmp_path, "utf-8"))["id"]
    other: WorkspaceFixture = make_workspace()

    headers = other.headers
    assert client.get(f"/api/v1/orders/{order_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/imports/{import_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/imports/{import_id}/errors", headers=headers).status_code == 404
    assert client.post(f"/api/v1/imports/{import_id}/run", headers=headers).status_code == 404
