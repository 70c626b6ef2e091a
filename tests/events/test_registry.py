"""Event-type registry: schema checks on save, compiled validation, settings."""

from typing import Any

import pytest
from sqlalchemy.orm import Session

from siyu.events import registry
from siyu.events.schemas import EventSettings, EventTypeIn, EventTypeUpdate
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

PAGE_VIEW = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "maxLength": 50},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
    "required": ["url"],
}


def _operator(workspace: WorkspaceFixture) -> Principal:
    return Principal(workspace_id=workspace.id, role=Role.OPERATOR, user_id=None)


@pytest.mark.parametrize(
    ("schema", "field", "message"),
    [
        ([], "properties_schema", "must be a JSON Schema object"),
        ({"type": "string"}, "properties_schema.type", "properties are an object"),
        ({"properties": {"n": {"type": "integr"}}}, "properties_schema.properties.n.type", ""),
        ({"required": "url"}, "properties_schema.required", "is not of type 'array'"),
        (
            {"properties": {"code": {"type": "string", "pattern": "("}}},
            "properties_schema.properties.code.pattern",
            "regex",
        ),
        (
            {"properties": {"x": {"$ref": "https://example.com/s.json"}}},
            "properties_schema.properties.x.$ref",
            "only local",
        ),
        (
            {"$schema": "https://json-schema.org/draft/2020-12/schema"},
            "properties_schema.$schema",
            "draft-07",
        ),
    ],
)
def test_bad_properties_schema_is_refused_naming_the_keyword(
    schema: Any, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        registry.check_properties_schema(schema, field="properties_schema")
    assert raised.value.field == field
    assert message in raised.value.message


def test_local_references_are_allowed() -> None:
    schema = {
        "definitions": {"money": {"type": "integer", "minimum": 0}},
        "properties": {"amount_fen": {"$ref": "#/definitions/money"}},
    }
    checked = registry.check_properties_schema(schema, field="properties_schema")
    validate = registry.validator_for(checked)
    assert validate is not None
    problem = registry.property_error(validate, {"amount_fen": -1})
    assert problem is not None
    assert problem.path == ".amount_fen"


def test_property_errors_point_into_nested_documents() -> None:
    validate = registry.validator_for(PAGE_VIEW)
    assert validate is not None

    assert registry.property_error(validate, {"url": "/p/1", "items": [{"sku": "A"}]}) is None
    nested = registry.property_error(validate, {"url": "/p/1", "items": [{"sku": "A"}, {}]})
    assert nested is not None
    assert nested.path == ".items[1]"
    assert "sku" in nested.message
    missing = registry.property_error(validate, {})
    assert missing is not None
    assert (missing.path, "url" in missing.message) == ("", True)


def test_validator_does_not_fill_in_defaults() -> None:
    schema = {"properties": {"channel": {"type": "string", "default": "web"}}}
    validate = registry.validator_for(schema)
    assert validate is not None
    properties: dict[str, Any] = {}
    assert registry.property_error(validate, properties) is None
    assert properties == {}


def test_empty_schema_needs_no_validator() -> None:
    assert registry.validator_for({}) is None
    assert registry.validator_for({"type": "object"}) is None


@pytest.mark.parametrize("name", ["", "1st", "page view", "页面", "a" * 65])
def test_bad_type_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        registry.check_name(name, field="name")
    assert raised.value.field == "name"


def test_type_lifecycle_create_replace_delete(db: Session, workspace: WorkspaceFixture) -> None:
    principal = _operator(workspace)
    created = registry.create_type(
        db, principal, EventTypeIn(name="page_view", properties_schema=PAGE_VIEW)
    )
    assert (created.name, created.display_name) == ("page_view", "page_view")
    with pytest.raises(Conflict):
        registry.create_type(db, principal, EventTypeIn(name="page_view"))

    replaced = registry.put_type(
        db, principal, "page_view", EventTypeUpdate(display_name="浏览页面", properties_schema={})
    )
    assert (replaced.id, replaced.display_name, replaced.properties_schema) == (
        created.id,
        "浏览页面",
        {},
    )
    upserted = registry.put_type(db, principal, "order_paid", EventTypeUpdate())
    assert upserted.name == "order_paid"

    registry.delete_type(db, principal, "page_view")
    with pytest.raises(NotFound):
        registry.get_type(db, workspace.id, "page_view")


def test_types_of_another_workspace_are_invisible(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ours, theirs = make_workspace(), make_workspace()
    registry.create_type(db, _operator(theirs), EventTypeIn(name="page_view"))

    with pytest.raises(NotFound):
        registry.get_type(db, ours.id, "page_view")
    assert registry.list_types(db, ours.id, cursor=None, limit=10) == ([], None)
    registry.create_type(db, _operator(ours), EventTypeIn(name="page_view"))


def test_type_list_pages_by_name(db: Session, workspace: WorkspaceFixture) -> None:
    for name in ["c_event", "a_event", "b_event"]:
        registry.create_type(db, _operator(workspace), EventTypeIn(name=name))

    first, cursor = registry.list_types(db, workspace.id, cursor=None, limit=2)
    assert [t.name for t in first] == ["a_event", "b_event"]
    second, end = registry.list_types(db, workspace.id, cursor=cursor, limit=2)
    assert ([t.name for t in second], end) == (["c_event"], None)


def test_unknown_type_policy_defaults_to_register_and_is_a_workspace_setting(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    strict, lenient = make_workspace(), make_workspace()
    assert registry.unknown_types_policy(db, strict.id) == "register"

    registry.update_settings(
        db, Principal(strict.id, Role.ADMIN), EventSettings(unknown_types="reject")
    )

    assert registry.unknown_types_policy(db, strict.id) == "reject"
    assert registry.unknown_types_policy(db, lenient.id) == "register"
