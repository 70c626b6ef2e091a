import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.app import serving_app
from siyu.config import Settings
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


def test_siyu_errors_render_code_message_and_details(client: TestClient) -> None:
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_request_validation_errors_name_the_field(api: TestClient) -> None:
    response = api.post("/api/v1/api-keys", json={"name": "k", "role": "superuser"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["field"] == "role"
    assert error["message"].startswith("role: ")


def test_validation_errors_do_not_echo_submitted_secrets(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"email": "x", "password": "hunter2-secret"})
    assert response.status_code == 422
    assert "hunter2-secret" not in response.text


def test_wrong_method_answers_json_405(api: TestClient) -> None:
    response = api.put("/api/v1/auth/me")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_rate_limit_answers_429_with_retry_after(
    client: TestClient, workspace: WorkspaceFixture
) -> None:
    wrong = {"email": workspace.admin_email, "password": "not the password"}
    statuses = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    response = client.post("/api/v1/auth/login", json=wrong)
    assert int(response.headers["Retry-After"]) > 0


def test_unexpected_errors_answer_json_500_without_internals(app: FastAPI) -> None:
    @app.get("/api/v1/test-boom")
    def boom() -> None:
        msg = "database password is hunter2"
        raise RuntimeError(msg)

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/test-boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in response.text


def test_openapi_declares_the_error_shape_on_api_routes(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    responses = schema["paths"]["/api/v1/users/{user_id}"]["patch"]["responses"]
    for status in ("401", "403", "404", "422"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorOut")
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_serving_app_keeps_its_start_up_heap_out_of_garbage_collection(
    engine: Engine, settings: Settings
) -> None:
    try:
        serving_app(settings, engine=engine, run_worker=False)
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()

    assert frozen > 0
