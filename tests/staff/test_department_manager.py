from fastapi.testclient import TestClient

from tests.conftest import MakeWorkspace


def _staff(api: TestClient, name: str) -> int:
    response = api.post("/api/v1/staff", json={"name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_department_manager_is_set_shown_in_the_tree_and_removed(api: TestClient) -> None:
    manager = _staff(api, "徐明")
    created = api.post("/api/v1/departments", json={"name": "徐汇店", "manager_staff_id": manager})
    assert created.status_code == 201, created.text
    department = created.json()["id"]
    assert created.json()["manager_staff_id"] == manager
    tree = api.get("/api/v1/departments").json()
    assert (tree[0]["manager_staff_id"], tree[0]["manager_name"]) == (manager, "徐明")

    renamed = api.patch(f"/api/v1/departments/{department}", json={"name": "徐汇旗舰店"})
    assert renamed.json()["manager_staff_id"] == manager
    cleared = api.patch(f"/api/v1/departments/{department}", json={"manager_staff_id": None})
    assert cleared.json()["manager_staff_id"] is None
    assert api.get("/api/v1/departments").json()[0]["manager_name"] is None


def test_deleting_the_manager_leaves_the_department_without_one(api: TestClient) -> None:
    manager = _staff(api, "孙丽")
    department = api.post(
        "/api/v1/departments", json={"name": "静安店", "manager_staff_id": manager}
    ).json()["id"]
    assert api.delete(f"/api/v1/staff/{manager}").status_code == 204
    assert api.get(f"/api/v1/departments/{department}").json()["manager_staff_id"] is None


def test_manager_must_be_a_staff_member_of_the_same_workspace(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    theirs = client.post("/api/v1/staff", json={"name": "别家"}, headers=other.headers).json()
    for body in (
        {"name": "甲", "manager_staff_id": theirs["id"]},
        {"name": "乙", "manager_staff_id": 999999},
    ):
        refused = api.post("/api/v1/departments", json=body)
        assert refused.status_code == 404
        assert refused.json()["error"]["details"]["field"] == "manager_staff_id"
    department = api.post("/api/v1/departments", json={"name": "丙"}).json()["id"]
    refused = api.patch(
        f"/api/v1/departments/{department}", json={"manager_staff_id": theirs["id"]}
    )
    assert refused.status_code == 404
    assert refused.json()["error"]["details"]["field"] == "manager_staff_id"
