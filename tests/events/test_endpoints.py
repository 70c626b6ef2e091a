"""Events over HTTP: batch ingest, the event-type registry, settings and roles."""

import gc
from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu.db.bulk import BULK_GC_THRESHOLD
from siyu.events import schemas, service
from siyu.events.schemas import IngestOut
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace


def _event(key: str, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": key,
        "type": "page_view",
        "occurred_at": "2026-11-20T10:00:00+08:00",
        "customer": {"mobile": "13800138000"},
        "properties": {"url": "/p/1"},
    }
    event.update(overrides)
    return event


def test_batch_reports_each_events_outcome_with_http_200(api: TestClient) -> None:
    response = api.post(
        "/api/v1/events/batch",
        json={"events": [_event("a"), _event("b", occurred_at="2026-11-20 10:00"), _event("a")]},
    )

    assert response.status_code == 200
    body = response.json()
    assert IngestOut.model_validate(body).model_dump() == body
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, 1)
    accepted, rejected, duplicate = body["results"]
    assert accepted["status"] == "accepted"
    assert isinstance(accepted["customer_id"], int)
    assert rejected == {
        "index": 1,
        "id": "b",
        "status": "rejected",
        "customer_id": None,
        "errors": [{"field": "events[1].occurred_at", "message": rejected["errors"][0]["message"]}],
    }
    assert duplicate == {
        "index": 2,
        "id": "a",
        "status": "duplicate",
        "customer_id": None,
        "errors": [],
    }

    again = api.post("/api/v1/events/batch", json={"events": [_event("a")]}).json()
    assert again["duplicates"] == 1


def test_a_batch_is_validated_and_stored_with_fewer_collector_passes(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    thresholds: list[tuple[str, int]] = []
    parse, store = schemas._ALL_VALID, service.ingest

    class Parsing:
        def validate_python(self, value: Any) -> list[schemas.EventIn]:
            thresholds.append(("parse", gc.get_threshold()[0]))
            return parse.validate_python(value)

    def storing(*args: Any, **kwargs: Any) -> service.IngestResult:
        thresholds.append(("store", gc.get_threshold()[0]))
        return store(*args, **kwargs)

    monkeypatch.setattr(schemas, "_ALL_VALID", Parsing())
    monkeypatch.setattr(service, "ingest", storing)
    before = gc.get_threshold()

    response = api.post("/api/v1/events/batch", json={"events": [_event("a")]})

    assert response.json()["accepted"] == 1
    assert thresholds == [("parse", BULK_GC_THRESHOLD), ("store", BULK_GC_THRESHOLD)]
    assert gc.get_threshold() == before


def test_batch_over_a_thousand_events_is_413(api: TestClient) -> None:
    response = api.post(
        "/api/v1/events/batch", json={"events": [_event(f"e{i}") for i in range(1001)]}
    )

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "1000" in error["message"]


def test_malformed_envelope_is_422(api: TestClient) -> None:
    for body in [{}, {"events": "nope"}, [_event("a")], {"events": [], "unknown_customers": "x"}]:
        response = api.post("/api/v1/events/batch", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_failed"


def test_unknown_customers_reject_option_over_http(api: TestClient) -> None:
    response = api.post(
        "/api/v1/events/batch",
        json={"events": [_event("a")], "unknown_customers": "reject"},
    )

    assert response.json()["results"][0]["errors"][0]["field"] == "events[0].customer"


def test_ingest_requires_operator(client: TestClient, make_workspace: MakeWorkspace) -> None:
    batch = {"events": [_event("a")]}
    for role, status in [(Role.VIEWER, 403), (Role.STAFF, 403), (Role.OPERATOR, 200)]:
        workspace = make_workspace(role=role)
        response = client.post("/api/v1/events/batch", json=batch, headers=workspace.headers)
        assert response.status_code == status, role
    assert client.post("/api/v1/events/batch", json=batch).status_code == 401


def test_event_type_registry_round_trip(api: TestClient) -> None:
    schema = {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}

    created = api.post(
        "/api/v1/event-types",
        json={"name": "page_view", "display_name": "浏览页面", "properties_schema": schema},
    )
    assert created.status_code == 201
    assert created.json()["properties_schema"] == schema
    assert api.post("/api/v1/event-types", json={"name": "page_view"}).status_code == 409
    assert api.get("/api/v1/event-types/page_view").json()["display_name"] == "浏览页面"

    rejected = api.post("/api/v1/events/batch", json={"events": [_event("a", properties={})]})
    assert rejected.json()["results"][0]["errors"][0]["field"] == "events[0].properties"

    replaced = api.put("/api/v1/event-types/page_view", json={"properties_schema": {}})
    assert (replaced.status_code, replaced.json()["display_name"]) == (200, "page_view")
    accepted = api.post("/api/v1/events/batch", json={"events": [_event("a", properties={})]})
    assert accepted.json()["accepted"] == 1

    assert api.delete("/api/v1/event-types/page_view").status_code == 204
    assert api.get("/api/v1/event-types/page_view").status_code == 404
    assert api.delete("/api/v1/event-types/page_view").status_code == 404


def test_invalid_schema_is_refused_with_the_field_named(api: TestClient) -> None:
    response = api.put(
        "/api/v1/event-types/page_view",
        json={"properties_schema": {"properties": {"n": {"type": "integr"}}}},
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "properties_schema.properties.n.type"


def test_event_types_list_in_keyset_pages(api: TestClient) -> None:
    for name in ["b", "c", "a"]:
        api.put(f"/api/v1/event-types/{name}", json={})

    first = api.get("/api/v1/event-types", params={"limit": 2}).json()
    second = api.get(
        "/api/v1/event-types", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()

    assert [t["name"] for t in first["items"]] == ["a", "b"]
    assert ([t["name"] for t in second["items"]], second["next_cursor"]) == (["c"], None)


def test_viewers_read_types_but_only_operators_change_them(
    client: TestClient, make_workspace: MakeWorkspace
) -> None:
    viewer = make_workspace(role=Role.VIEWER)
    headers = viewer.headers

    assert client.get("/api/v1/event-types", headers=headers).status_code == 200
    assert client.put("/api/v1/event-types/x", json={}, headers=headers).status_code == 403
    assert client.post("/api/v1/event-types", json={"name": "x"}, headers=headers).status_code == (
        403
    )
    assert client.delete("/api/v1/event-types/x", headers=headers).status_code == 403


def test_unknown_type_setting_is_admin_only_and_takes_effect(
    client: TestClient, make_workspace: MakeWorkspace
) -> None:
    admin = make_workspace()
    operator = make_workspace(role=Role.OPERATOR)
    assert client.get("/api/v1/events/settings", headers=admin.headers).json() == {
        "unknown_types": "register"
    }
    refused = client.put(
        "/api/v1/events/settings", json={"unknown_types": "reject"}, headers=operator.headers
    )
    assert refused.status_code == 403

    changed = client.put(
        "/api/v1/events/settings", json={"unknown_types": "reject"}, headers=admin.headers
    )
    assert changed.json() == {"unknown_types": "reject"}
    result = client.post(
        "/api/v1/events/batch", json={"events": [_event("a")]}, headers=admin.headers
    ).json()
    assert result["results"][0]["errors"][0]["field"] == "events[0].type"


def test_openapi_documents_the_event_shape_with_examples(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]

    events = schemas["IngestIn"]["properties"]["events"]
    assert events["items"] == {"$ref": "#/components/schemas/EventIn"}
    assert events["maxItems"] == 1000
    assert schemas["EventIn"]["examples"]
    assert set(schemas["EventIn"]["required"]) == {"id", "type", "occurred_at", "customer"}
    assert "413" in spec["paths"]["/api/v1/events/batch"]["post"]["responses"]
