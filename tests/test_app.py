from fastapi.testclient import TestClient

from tests.conftest import WorkspaceFixture


def test_health_and_readiness_report_the_database(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["database"] in {"sqlite", "postgresql"}


def test_openapi_is_3_1_under_api_v1(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert "/api/v1/auth/me" in schema["paths"]


def test_unknown_api_path_answers_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_request_without_credentials_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_api_key_authenticates(client: TestClient, workspace: WorkspaceFixture) -> None:
    response = client.get("/api/v1/auth/me", headers=workspace.headers)
    assert response.status_code == 200
    assert response.json()["workspace_slug"] == workspace.slug


def test_metrics_count_requests(client: TestClient) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert "siyu_http_requests_total" in body
