from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import AuditEntry, Customer, Department, FollowRelation
from tests.conftest import MakeWorkspace, WorkspaceFixture

HEADER = "姓名,账号(userid),手机,邮箱,部门,职位\n"


def _import(api: TestClient, text: str, *, encoding: str = "utf-8") -> Any:
    response = api.post(
        "/api/v1/staff/import",
        files={"file": ("staff.csv", text.encode(encoding), "text/csv")},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _department(api: TestClient, name: str, parent_id: int | None = None) -> int:
    response = api.post("/api/v1/departments", json={"name": name, "parent_id": parent_id})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _staff(api: TestClient, **fields: Any) -> int:
    response = api.post("/api/v1/staff", json=fields)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_department_tree_is_nested_with_staff_counts(api: TestClient) -> None:
    east = _department(api, "华东大区")
    shanghai = _department(api, "上海", east)
    _department(api, "杭州", east)
    _department(api, "华北大区")
    _staff(api, name="王芳", department_id=shanghai)
    _staff(api, name="李雷", department_id=shanghai)

    tree = api.get("/api/v1/departments").json()

    assert [d["name"] for d in tree] == ["华东大区", "华北大区"]
    assert [c["name"] for c in tree[0]["children"]] == ["上海", "杭州"]
    assert tree[0]["children"][0]["staff_count"] == 2
    assert tree[0]["staff_count"] == 0
    assert tree[1]["children"] == []


def test_department_cycle_is_refused_over_http(api: TestClient) -> None:
    east = _department(api, "华东大区")
    shanghai = _department(api, "上海", east)

    response = api.patch(f"/api/v1/departments/{east}", json={"parent_id": shanghai})

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "parent_id"


def test_staff_list_pages_and_filters_by_department_subtree_status_and_prefix(
    api: TestClient,
) -> None:
    east = _department(api, "华东大区")
    shanghai = _department(api, "上海", east)
    north = _department(api, "华北大区")
    ids = [
        _staff(api, name=f"店员{i}", wecom_userid=f"clerk{i}", department_id=shanghai)
        for i in range(5)
    ]
    _staff(api, name="王芳", wecom_userid="wangfang", mobile="13800138000", department_id=north)
    _staff(api, name="离职员工", department_id=shanghai, status="resigned")

    pages: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"department_id": east, "status": "active", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/api/v1/staff", params=params).json()
        pages.append(len(page["items"]))
        ids_seen = [s["id"] for s in page["items"]]
        assert all(i in ids for i in ids_seen)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    by_mobile = api.get("/api/v1/staff", params={"q": "1380013"}).json()["items"]
    by_userid = api.get("/api/v1/staff", params={"q": "clerk"}).json()["items"]
    by_name = api.get("/api/v1/staff", params={"q": "王", "sort": "-name"}).json()["items"]
    bad_sort = api.get("/api/v1/staff", params={"sort": "mobile"})

    assert pages == [2, 2, 1]
    assert [s["name"] for s in by_mobile] == ["王芳"]
    assert len(by_userid) == 5
    assert [s["name"] for s in by_name] == ["王芳"]
    assert bad_sort.status_code == 422
    assert bad_sort.json()["error"]["details"]["field"] == "sort"


def test_csv_import_applies_good_rows_and_reports_bad_ones_by_row_and_column(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    text = HEADER + (
        "王芳,wangfang,13800138000,wang@example.com,华东大区/上海/徐汇店,店长\n"
        "李雷,lilei,,,华东大区/上海/徐汇店,导购\n"
        ",nobody,,,,\n"
        "韩梅梅,hanmeimei,12345,not-an-email,华东大区/杭州/西湖店,导购\n"
        "\n"
        "王芳二号,wangfang,,,,\n"
    )

    result = _import(api, text)

    assert (result["created"], result["updated"], result["failed"]) == (2, 0, 3)
    assert result["departments_created"] == 3
    rows = {r["row"]: r for r in result["rows"]}
    assert rows[2]["status"] == "created"
    assert rows[4]["errors"] == [{"column": "姓名", "message": "required"}]
    assert {e["column"] for e in rows[5]["errors"]} == {"手机", "邮箱"}
    assert rows[7]["errors"][0]["column"] == "账号"
    assert "row 2" in rows[7]["errors"][0]["message"]
    with unit_of_work(engine) as session:
        departments = session.scalars(
            select(Department.name).where(Department.workspace_id == workspace.id)
        ).all()
    assert sorted(departments) == sorted(["华东大区", "上海", "徐汇店"])  # no 杭州 from row 5
    listed = api.get("/api/v1/staff", params={"q": "wangfang"}).json()["items"]
    assert listed[0]["mobile"] == "+8613800138000"
    assert listed[0]["position"] == "店长"


def test_second_import_updates_members_by_userid_and_reads_gbk(api: TestClient) -> None:
    _import(api, HEADER + "王芳,wangfang,13800138000,,华东大区/上海,导购\n")

    result = _import(api, HEADER + "王芳,wangfang,,,华东大区/杭州,店长\n", encoding="gbk")

    assert (result["created"], result["updated"], result["failed"]) == (0, 1, 0)
    [staff] = api.get("/api/v1/staff").json()["items"]
    assert staff["position"] == "店长"
    assert staff["mobile"] == "+8613800138000"  # a blank cell keeps the stored value
    tree = api.get("/api/v1/departments").json()
    assert [c["name"] for c in tree[0]["children"]] == ["上海", "杭州"]


def test_import_without_required_columns_is_refused(api: TestClient) -> None:
    response = api.post(
        "/api/v1/staff/import",
        files={"file": ("staff.csv", "姓名,手机\n王芳,13800138000\n".encode(), "text/csv")},
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "file"
    assert "账号" in response.json()["error"]["message"]


def test_staff_and_departments_of_another_workspace_are_not_found(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    their_department = client.post(
        "/api/v1/departments", json={"name": "总部"}, headers=other.headers
    ).json()["id"]
    their_staff = client.post("/api/v1/staff", json={"name": "李雷"}, headers=other.headers).json()[
        "id"
    ]

    responses = [
        api.get(f"/api/v1/staff/{their_staff}"),
        api.patch(f"/api/v1/staff/{their_staff}", json={"name": "x"}),
        api.delete(f"/api/v1/staff/{their_staff}"),
        api.get(f"/api/v1/departments/{their_department}"),
        api.patch(f"/api/v1/departments/{their_department}", json={"name": "x"}),
        api.delete(f"/api/v1/departments/{their_department}"),
        api.post("/api/v1/departments", json={"name": "上海", "parent_id": their_department}),
        api.post("/api/v1/staff", json={"name": "王芳", "department_id": their_department}),
        api.get("/api/v1/staff", params={"department_id": their_department}),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)


def test_deleting_staff_who_follow_customers_is_refused_and_deletes_are_audited(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    follower = _staff(api, name="王芳", wecom_userid="wangfang")
    mistake = _staff(api, name="录错了")
    empty = _department(api, "临时部门")
    with unit_of_work(engine) as session:
        customer_id = session.scalar(
            insert(Customer).values(workspace_id=workspace.id, name="客户").returning(Customer.id)
        )
        session.execute(
            insert(FollowRelation).values(
                workspace_id=workspace.id,
                customer_id=customer_id,
                staff_id=follower,
                added_at=utcnow(),
            )
        )

    refused = api.delete(f"/api/v1/staff/{follower}")
    deleted = api.delete(f"/api/v1/staff/{mistake}")
    department_deleted = api.delete(f"/api/v1/departments/{empty}")

    assert refused.status_code == 409
    assert deleted.status_code == 204
    assert department_deleted.status_code == 204
    assert api.get(f"/api/v1/staff/{mistake}").status_code == 404
    with unit_of_work(engine) as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.workspace_id == workspace.id)
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["staff.delete", "department.delete"]
