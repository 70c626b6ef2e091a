from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.customers import custom_fields
from siyu.customers.custom_fields import FieldType
from siyu.customers.schemas import CustomerCreate
from siyu.customers.service import create_customer
from siyu.exceptions import Conflict, ValidationFailed
from siyu.models import Customer
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture


def _define(db: Session, workspace_id: int) -> None:
    custom_fields.create_field(
        db, workspace_id, key="nickname", label="昵称", field_type=FieldType.TEXT
    )
    custom_fields.create_field(
        db, workspace_id, key="height", label="身高", field_type=FieldType.NUMBER
    )
    custom_fields.create_field(
        db, workspace_id, key="wedding", label="婚期", field_type=FieldType.DATE
    )
    custom_fields.create_field(
        db,
        workspace_id,
        key="level",
        label="等级",
        field_type=FieldType.CHOICE,
        options=["金", "银"],
    )
    custom_fields.create_field(
        db,
        workspace_id,
        key="hobbies",
        label="爱好",
        field_type=FieldType.MULTI_CHOICE,
        options=["跑步", "读书", "旅行"],
    )


def test_values_are_checked_and_stored_in_their_canonical_form(
    db: Session, workspace: WorkspaceFixture
) -> None:
    _define(db, workspace.id)
    fields = custom_fields.definitions(db, workspace.id)
    cleaned = custom_fields.validate_values(
        fields,
        {
            "nickname": "小王",
            "height": "172.5",
            "wedding": "2025/10/01",
            "level": "金",
            "hobbies": "读书，跑步、读书",
        },
    )
    assert cleaned == {
        "nickname": "小王",
        "height": 172.5,
        "wedding": "2025-10-01",
        "level": "金",
        "hobbies": ["读书", "跑步"],
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"unknown": "x"}, "custom_fields.unknown"),
        ({"nickname": 5}, "custom_fields.nickname"),
        ({"height": "tall"}, "custom_fields.height"),
        ({"height": True}, "custom_fields.height"),
        ({"wedding": "next spring"}, "custom_fields.wedding"),
        ({"level": "铜"}, "custom_fields.level"),
        ({"hobbies": ["跑步", "游泳"]}, "custom_fields.hobbies"),
        ({"hobbies": 3}, "custom_fields.hobbies"),
    ],
)
def test_invalid_value_is_refused_naming_the_field(
    db: Session, workspace: WorkspaceFixture, values: dict[str, Any], field: str
) -> None:
    _define(db, workspace.id)
    with pytest.raises(ValidationFailed) as caught:
        custom_fields.validate_values(custom_fields.definitions(db, workspace.id), values)
    assert caught.value.field == field


def test_choice_field_needs_distinct_options(db: Session, workspace: WorkspaceFixture) -> None:
    with pytest.raises(ValidationFailed) as caught:
        custom_fields.create_field(
            db, workspace.id, key="size", label="尺码", field_type=FieldType.CHOICE, options=[]
        )
    assert caught.value.field == "options"
    with pytest.raises(ValidationFailed) as caught:
        custom_fields.create_field(
            db,
            workspace.id,
            key="size",
            label="尺码",
            field_type=FieldType.CHOICE,
            options=["S", "S"],
        )
    assert caught.value.field == "options[1]"


def test_key_is_unique_per_workspace_only(db: Session, make_workspace: MakeWorkspace) -> None:
    first, second = make_workspace(), make_workspace()
    custom_fields.create_field(db, first.id, key="level", label="等级", field_type=FieldType.TEXT)
    custom_fields.create_field(db, second.id, key="level", label="等级", field_type=FieldType.TEXT)
    with pytest.raises(Conflict):
        custom_fields.create_field(
            db, first.id, key="level", label="级别", field_type=FieldType.TEXT
        )


def test_deleting_a_field_removes_its_value_from_customers(
    db: Session, workspace: WorkspaceFixture
) -> None:
    _define(db, workspace.id)
    customer, _ = create_customer(
        db,
        workspace.id,
        CustomerCreate(name="甲", custom_fields={"level": "金", "nickname": "阿甲"}),
        source="test",
        actor="test",
    )
    db.commit()
    level = custom_fields.definitions(db, workspace.id)["level"]
    custom_fields.delete_field(db, workspace.id, level.id)
    db.commit()
    reloaded = db.get(Customer, customer.id)
    assert reloaded is not None
    assert reloaded.custom_fields == {"nickname": "阿甲"}
    assert "level" not in custom_fields.definitions(db, workspace.id)


def test_admin_defines_fields_over_http_and_others_only_read(
    api: TestClient, make_workspace: MakeWorkspace, client: TestClient
) -> None:
    created = api.post(
        "/api/v1/custom-fields",
        json={"key": "level", "label": "等级", "field_type": "choice", "options": ["金", "银"]},
    )
    assert created.status_code == 201, created.text
    field_id = created.json()["id"]
    renamed = api.patch(f"/api/v1/custom-fields/{field_id}", json={"options": ["金", "银", "铜"]})
    assert renamed.json()["options"] == ["金", "银", "铜"]
    assert [f["key"] for f in api.get("/api/v1/custom-fields").json()] == ["level"]

    viewer = make_workspace(role=Role.VIEWER)
    refused = client.post(
        "/api/v1/custom-fields",
        json={"key": "x", "label": "x", "field_type": "text"},
        headers=viewer.headers,
    )
    assert refused.status_code == 403
    assert api.delete(f"/api/v1/custom-fields/{field_id}").status_code == 204
    assert api.get("/api/v1/custom-fields").json() == []
