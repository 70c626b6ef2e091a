from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.customers import custom_fields, merging, service
from siyu.customers.custom_fields import FieldType
from siyu.customers.follow import upsert_follow_relation
from siyu.customers.schemas import CustomerCreate, IdentityIn
from siyu.customers.stats import OrderStats, aov_fen, apply_order_stats, touch_last_active
from siyu.exceptions import NotFound, ValidationFailed
from siyu.models import AuditEntry, Customer, Identity, Staff
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _create(db: Session, workspace_id: int, **fields: object) -> Customer:
    customer, _ = service.create_customer(
        db, workspace_id, CustomerCreate.model_validate(fields), source="test", actor="test"
    )
    return customer


def test_create_resolves_identities_and_a_duplicate_joins_the_existing_customer(
    db: Session, workspace: WorkspaceFixture
) -> None:
    first, created = service.create_customer(
        db,
        workspace.id,
        CustomerCreate(
            name="王小明",
            mobile="138 0013 8000",
            identities=[IdentityIn(kind="wechat_unionid", value="u-1")],
        ),
        source="test",
        actor="test",
    )
    assert created.created
    assert first.mobile == "+8613800138000"
    assert first.mobile_last4 == "8000"
    kinds = set(db.scalars(select(Identity.kind).where(Identity.customer_id == first.id)))
    assert kinds == {"wechat_unionid", "mobile"}

    again, matched = service.create_customer(
        db,
        workspace.id,
        CustomerCreate(
            name="小明",
            remark="门店登记",
            identities=[IdentityIn(kind="mobile", value="+86 13800138000")],
        ),
        source="test",
        actor="test",
    )
    assert not matched.created
    assert again.id == first.id
    assert again.name == "王小明"  # an existing profile keeps its values
    assert again.remark == "门店登记"  # empty fields are filled


def test_mobile_identity_fills_the_profile_mobile(db: Session, workspace: WorkspaceFixture) -> None:
    customer = _create(db, workspace.id, identities=[{"kind": "mobile", "value": "13900008000"}])
    assert customer.mobile == "+8613900008000"
    assert customer.mobile_last4 == "8000"


def test_invalid_identity_names_its_position(db: Session, workspace: WorkspaceFixture) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _create(
            db,
            workspace.id,
            identities=[{"kind": "email", "value": "a@b.cn"}, {"kind": "mobile", "value": "12"}],
        )
    assert caught.value.field == "identities[1].value"


def test_update_profile_validates_fields_and_custom_fields(
    db: Session, workspace: WorkspaceFixture
) -> None:
    custom_fields.create_field(
        db, workspace.id, key="level", label="等级", field_type=FieldType.CHOICE, options=["金"]
    )
    customer = _create(db, workspace.id, name="甲")
    admin = Principal.system(workspace.id)
    updated = service.update_profile(
        db,
        admin,
        customer.id,
        {"gender": "female", "mobile": "13800138000", "custom_fields": {"level": "金"}},
    )
    assert updated.gender == "female"
    assert updated.mobile_last4 == "8000"
    assert updated.custom_fields == {"level": "金"}
    service.update_profile(
        db, admin, customer.id, {"custom_fields": {"level": None}, "mobile": None}
    )
    assert updated.custom_fields == {}
    assert updated.mobile is None
    assert updated.mobile_last4 is None

    for changes, field in (
        ({"custom_fields": {"level": "银"}}, "custom_fields.level"),
        ({"gender": "robot"}, "gender"),
        ({"email": "not-an-email"}, "email"),
        ({"avatar_url": "ftp://x"}, "avatar_url"),
        ({"lifecycle_stage": None}, "lifecycle_stage"),
        ({"colour": "red"}, "colour"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            service.update_profile(db, admin, customer.id, changes)
        assert caught.value.field == field


def test_staff_reaches_only_customers_they_actively_follow(
    db: Session, workspace: WorkspaceFixture
) -> None:
    followed, other = _create(db, workspace.id), _create(db, workspace.id)
    staff = Staff(workspace_id=workspace.id, name="Anna")
    db.add(staff)
    db.flush()
    upsert_follow_relation(db, workspace.id, followed.id, staff.id, added_at=T0)
    principal = Principal(workspace_id=workspace.id, role=Role.STAFF, staff_id=staff.id)
    assert service.get_customer(db, principal, followed.id).id == followed.id
    with pytest.raises(NotFound):
        service.get_customer(db, principal, other.id)
    with pytest.raises(NotFound):
        service.update_profile(db, principal, other.id, {"name": "x"})
    upsert_follow_relation(
        db, workspace.id, followed.id, staff.id, added_at=T0, status="deleted_by_customer"
    )
    with pytest.raises(NotFound):
        service.get_customer(db, principal, followed.id)


def test_other_workspace_customer_is_not_found(db: Session, make_workspace: MakeWorkspace) -> None:
    mine, theirs = make_workspace(), make_workspace()
    customer = _create(db, theirs.id)
    with pytest.raises(NotFound):
        service.get_customer(db, Principal.system(mine.id), customer.id)
    with pytest.raises(NotFound) as caught:
        service.require_customer_ids(db, mine.id, [customer.id])
    assert caught.value.details == {"id": customer.id}


def test_merged_customer_is_not_found_but_names_its_survivor(
    db: Session, workspace: WorkspaceFixture
) -> None:
    survivor, merged = _create(db, workspace.id), _create(db, workspace.id)
    merging.merge(db, workspace.id, survivor.id, merged.id, reason="test", actor="test")
    with pytest.raises(NotFound) as caught:
        service.get_customer(db, Principal.system(workspace.id), merged.id)
    assert caught.value.details == {"merged_into_id": survivor.id}
    with pytest.raises(NotFound):
        service.require_customer_ids(db, workspace.id, [survivor.id, merged.id])
    assert service.require_customer_ids(db, workspace.id, [survivor.id, survivor.id]) == [
        survivor.id
    ]
    assert service.live_customer_ids(db, workspace.id, [merged.id, survivor.id, 10**9]) == {
        merged.id: survivor.id,
        survivor.id: survivor.id,
    }


def test_delete_removes_the_customer_and_those_merged_into_it_and_is_audited(
    db: Session, workspace: WorkspaceFixture
) -> None:
    survivor, merged = _create(db, workspace.id), _create(db, workspace.id)
    merging.merge(db, workspace.id, survivor.id, merged.id, reason="test", actor="test")
    db.commit()
    service.delete_customer(db, Principal.system(workspace.id), survivor.id)
    db.commit()
    remaining = db.scalars(select(Customer.id).where(Customer.workspace_id == workspace.id))
    assert list(remaining) == []
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "customer.delete")).one()
    assert audit.target_id == str(survivor.id)


def test_order_stats_are_set_and_last_active_only_moves_forward(
    db: Session, workspace: WorkspaceFixture
) -> None:
    customer = _create(db, workspace.id)
    apply_order_stats(
        db, workspace.id, {customer.id: OrderStats(3, 10_000, T0, T0 + timedelta(days=3))}
    )
    touch_last_active(db, workspace.id, {customer.id: T0 + timedelta(days=5)})
    touch_last_active(db, workspace.id, {customer.id: T0})
    db.commit()
    assert customer.order_count == 3
    assert customer.total_paid_fen == 10_000
    assert customer.first_order_at == T0
    assert customer.last_order_at == T0 + timedelta(days=3)
    assert customer.last_active_at == T0 + timedelta(days=5)
    assert aov_fen(3, 10_000) == 3333
    assert aov_fen(2, 5) == 3
    assert aov_fen(0, 0) == 0


def test_stats_never_touch_another_workspace(db: Session, make_workspace: MakeWorkspace) -> None:
    mine, theirs = make_workspace(), make_workspace()
    customer = _create(db, theirs.id)
    apply_order_stats(db, mine.id, {customer.id: OrderStats(1, 100, T0, T0)})
    touch_last_active(db, mine.id, {customer.id: T0})
    db.commit()
    assert customer.order_count == 0
    assert customer.last_active_at is None
