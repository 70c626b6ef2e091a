from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import MakeWorkspace


def _entries(api: TestClient, **params: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/audit-log", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_audit_log_narrows_by_target_and_names_the_actor(api: TestClient) -> None:
    keys = [
        api.post("/api/v1/api-keys", json={"name": f"k{i}", "role": "viewer"}).json()
        for i in range(2)
    ]
    assert api.delete(f"/api/v1/api-keys/{keys[0]['id']}").status_code == 204

    everything = _entries(api)
    assert [e["action"] for e in everything] == [
        "api_key.revoke",
        "api_key.create",
        "api_key.create",
    ]
    assert {e["actor_name"] for e in everything} == {"tests"}

    about_first = _entries(api, target_type="api_key", target_id=str(keys[0]["id"]))
    assert [e["action"] for e in about_first] == ["api_key.revoke", "api_key.create"]
    revokes = _entries(api, action="api_key.revoke", target_type="api_key")
    assert [e["target_id"] for e in revokes] == [str(keys[0]["id"])]
    assert _entries(api, target_type="customer") == []


def test_audit_filters_never_reach_another_workspace(
    api: TestClient, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    key = api.post("/api/v1/api-keys", json={"name": "k", "role": "viewer"}).json()
    other = make_workspace()
    response = client.get(
        "/api/v1/audit-log",
        params={"target_type": "api_key", "target_id": str(key["id"])},
        headers=other.headers,
    )
    assert response.status_code == 200
    assert response.json()["items"] == []
