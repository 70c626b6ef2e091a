from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import siyu.models
from siyu.customers import merging, oneid
from siyu.customers.identities import normalize
from siyu.db.base import Base
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.models import (
    Customer,
    CustomerTag,
    Event,
    FollowRelation,
    Identity,
    MergeRecord,
    Order,
    Staff,
    Tag,
    TagChange,
    TagGroup,
)
from tests.conftest import MakeWorkspace, WorkspaceFixture

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(day: int) -> datetime:
    return T0.replace(day=day)


@dataclass
class World:
    """Two customers with rows in every table that references a customer."""

    workspace_id: int
    survivor: Customer
    merged: Customer
    shared_staff: Staff
    other_staff: Staff
    shared_tag: Tag
    other_tag: Tag


def build_world(db: Session, workspace_id: int) -> World:
    survivor = Customer(workspace_id=workspace_id, name="王芳", custom_fields={"size": "M"})
    merged = Customer(
        workspace_id=workspace_id,
        name="芳芳",
        gender="female",
        birthday=date(1990, 5, 1),
        city="上海",
        custom_fields={"size": "L", "pet": "cat"},
    )
    db.add_all([survivor, merged])
    db.flush()
    shared_staff = Staff(workspace_id=workspace_id, name="店员甲")
    other_staff = Staff(workspace_id=workspace_id, name="店员乙")
    group = TagGroup(workspace_id=workspace_id, name="偏好")
    db.add_all([shared_staff, other_staff, group])
    db.flush()
    shared_tag = Tag(workspace_id=workspace_id, group_id=group.id, name="护肤")
    other_tag = Tag(workspace_id=workspace_id, group_id=group.id, name="彩妆")
    db.add_all([shared_tag, other_tag])
    db.flush()
    for owner, values in ((survivor, ("u-survivor", "s@x.com")), (merged, ("u-merged", "m@x.com"))):
        db.add_all(
            [
                Identity(
                    workspace_id=workspace_id,
                    customer_id=owner.id,
                    kind="wechat_unionid",
                    value=values[0],
                    source="test",
                ),
                Identity(
                    workspace_id=workspace_id,
                    customer_id=owner.id,
                    kind="email",
                    value=values[1],
                    source="test",
                ),
            ]
        )
    db.add_all(
        [
            FollowRelation(
                workspace_id=workspace_id,
                customer_id=survivor.id,
                staff_id=shared_staff.id,
                added_at=at(1),
                remark="survivor's",
            ),
            FollowRelation(
                workspace_id=workspace_id,
                customer_id=merged.id,
                staff_id=shared_staff.id,
                added_at=at(2),
                remark="merged's duplicate",
                status="deleted_by_staff",
            ),
            FollowRelation(
                workspace_id=workspace_id,
                customer_id=merged.id,
                staff_id=other_staff.id,
                added_at=at(3),
                remark="merged's own",
            ),
            CustomerTag(
                workspace_id=workspace_id,
                customer_id=survivor.id,
                tag_id=shared_tag.id,
                source="manual",
                actor="user:1",
                created_at=at(1),
            ),
            CustomerTag(
                workspace_id=workspace_id,
                customer_id=merged.id,
                tag_id=shared_tag.id,
                source="wecom",
                actor="staff:9",
                created_at=at(2),
            ),
            CustomerTag(
                workspace_id=workspace_id,
                customer_id=merged.id,
                tag_id=other_tag.id,
                source="rule",
                actor=None,
                created_at=at(3),
            ),
            TagChange(
                workspace_id=workspace_id,
                customer_id=merged.id,
                tag_id=other_tag.id,
                tag_name="偏好/彩妆",
                action="add",
                source="rule",
            ),
            Event(
                workspace_id=workspace_id,
                customer_id=survivor.id,
                event_key="e-s",
                event_type="page_view",
                occurred_at=at(4),
            ),
            Event(
                workspace_id=workspace_id,
                customer_id=merged.id,
                event_key="e-m",
                event_type="page_view",
                occurred_at=at(20),
            ),
            order(workspace_id, survivor.id, "o-s", paid=10000, day=5),
            order(workspace_id, merged.id, "o-m1", paid=5000, refunded=1000, day=2),
            order(workspace_id, merged.id, "o-m2", paid=7000, day=10, status="cancelled"),
            order(
                workspace_id, merged.id, "o-m3", paid=3000, refunded=3000, day=12, status="refunded"
            ),
            order(workspace_id, merged.id, "o-m4", paid=0, day=15, status="pending"),
        ]
    )
    db.flush()
    for customer in (survivor, merged):
        merging.recompute_stats(db, workspace_id, customer)
    db.flush()
    return World(workspace_id, survivor, merged, shared_staff, other_staff, shared_tag, other_tag)


def order(
    workspace_id: int,
    customer_id: int,
    key: str,
    *,
    paid: int,
    day: int,
    refunded: int = 0,
    status: str = "paid",
) -> Order:
    return Order(
        workspace_id=workspace_id,
        platform="tmall",
        platform_order_id=key,
        customer_id=customer_id,
        status=status,
        total_fen=paid,
        paid_fen=paid,
        refunded_fen=refunded,
        ordered_at=at(day),
    )


def snapshot(db: Session, workspace_id: int) -> dict[str, Any]:
    """Every customer-referencing row, with the columns a merge must leave intact."""
    db.expire_all()

    def rows(model: Any, *columns: str) -> list[tuple[Any, ...]]:
        found = db.scalars(select(model).where(model.workspace_id == workspace_id)).all()
        return sorted(tuple(getattr(r, c) for c in columns) for r in found)

    return {
        "identity": rows(Identity, "id", "customer_id", "kind", "value"),
        "follow_relation": rows(
            FollowRelation, "id", "customer_id", "staff_id", "remark", "status", "added_at"
        ),
        "customer_tag": rows(CustomerTag, "customer_id", "tag_id", "source", "actor", "created_at"),
        "tag_change": rows(TagChange, "id", "customer_id"),
        "event": rows(Event, "id", "customer_id"),
        "customer_order": rows(Order, "id", "customer_id"),
        "customer": rows(
            Customer,
            "id",
            "merged_into_id",
            "name",
            "gender",
            "birthday",
            "city",
            "custom_fields",
            "order_count",
            "total_paid_fen",
            "first_order_at",
            "last_order_at",
            "last_active_at",
        ),
    }


def owned_by(db: Session, model: Any, customer_id: int) -> int:
    return len(db.scalars(select(model).where(model.customer_id == customer_id)).all())


def test_merge_handles_every_table_that_references_a_customer() -> None:
    assert siyu.models  # every table registered
    referencing = {
        table.name
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "customer"
    } - {"customer", "merge_record"}
    assert referencing == merging.HANDLED_TABLES


def test_merge_moves_every_row_and_fills_the_survivors_empty_profile(
    db: Session, workspace: WorkspaceFixture
) -> None:
    w = build_world(db, workspace.id)

    record = merging.merge(
        db, w.workspace_id, w.survivor.id, w.merged.id, reason="same person", actor="user:1"
    )

    db.expire_all()
    for model in (Identity, TagChange, Event, Order):
        assert owned_by(db, model, w.merged.id) == 0
    assert owned_by(db, Identity, w.survivor.id) == 4
    assert owned_by(db, Event, w.survivor.id) == 2
    assert owned_by(db, Order, w.survivor.id) == 5
    relations = db.scalars(
        select(FollowRelation).where(FollowRelation.workspace_id == w.workspace_id)
    ).all()
    assert sorted((r.customer_id, r.remark) for r in relations) == [
        (w.survivor.id, "merged's own"),
        (w.survivor.id, "survivor's"),
    ]
    tags = db.scalars(select(CustomerTag).where(CustomerTag.workspace_id == w.workspace_id)).all()
    assert sorted((t.customer_id, t.tag_id, t.source) for t in tags) == sorted(
        [(w.survivor.id, w.shared_tag.id, "manual"), (w.survivor.id, w.other_tag.id, "rule")]
    )
    survivor = db.get(Customer, w.survivor.id)
    merged = db.get(Customer, w.merged.id)
    assert survivor is not None
    assert merged is not None
    assert merged.merged_into_id == survivor.id
    assert (survivor.name, survivor.gender, survivor.birthday, survivor.city) == (
        "王芳",
        "female",
        date(1990, 5, 1),
        "上海",
    )
    assert survivor.custom_fields == {"size": "M", "pet": "cat"}
    assert (survivor.order_count, survivor.total_paid_fen) == (2, 10000 + 5000 - 1000)
    assert (survivor.first_order_at, survivor.last_order_at) == (at(2), at(5))
    assert survivor.last_active_at == at(20)
    assert (merged.order_count, merged.total_paid_fen, merged.last_active_at) == (0, 0, None)
    assert record.moved["customer_tag_dropped"][0]["source"] == "wecom"
    assert len(record.moved["follow_relation_dropped"]) == 1
    assert merging.merge_history(db, w.workspace_id, w.merged.id) == [record]


def test_unmerge_puts_back_exactly_what_the_merge_moved(
    db: Session, workspace: WorkspaceFixture
) -> None:
    w = build_world(db, workspace.id)
    before = snapshot(db, w.workspace_id)
    record = merging.merge(
        db, w.workspace_id, w.survivor.id, w.merged.id, reason="same person", actor="user:1"
    )
    db.commit()
    assert snapshot(db, w.workspace_id) != before

    restored = merging.unmerge(db, w.workspace_id, record.id, actor="user:2")
    db.commit()

    assert restored.id == w.merged.id
    assert snapshot(db, w.workspace_id) == before
    db.refresh(record)
    assert record.undone_at is not None
    assert record.undone_by == "user:2"
    assert oneid.find_customer_id(db, w.workspace_id, normalize("email", "m@x.com")) == w.merged.id


def test_rows_that_changed_after_the_merge_stay_where_they_are_on_unmerge(
    db: Session, workspace: WorkspaceFixture
) -> None:
    w = build_world(db, workspace.id)
    record = merging.merge(db, w.workspace_id, w.survivor.id, w.merged.id, reason="x", actor="t")
    moved_identity = db.scalar(select(Identity).where(Identity.value == "m@x.com"))
    assert moved_identity is not None
    oneid.remove_identity(db, w.workspace_id, w.survivor.id, moved_identity.id)
    db.add(
        Event(
            workspace_id=w.workspace_id,
            customer_id=w.survivor.id,
            event_key="after",
            event_type="page_view",
            occurred_at=at(25),
        )
    )
    db.flush()

    merging.unmerge(db, w.workspace_id, record.id, actor="t")

    db.expire_all()
    assert db.scalar(select(Identity).where(Identity.value == "m@x.com")) is None
    assert owned_by(db, Identity, w.merged.id) == 1
    after = db.scalar(select(Event).where(Event.event_key == "after"))
    assert after is not None
    assert after.customer_id == w.survivor.id


def test_merging_into_a_merged_customer_lands_on_its_survivor(
    db: Session, workspace: WorkspaceFixture
) -> None:
    a, b, c = (Customer(workspace_id=workspace.id) for _ in range(3))
    db.add_all([a, b, c])
    db.flush()
    merging.merge(db, workspace.id, a.id, b.id, reason="one", actor="t")

    chained = merging.merge(db, workspace.id, b.id, c.id, reason="two", actor="t")

    assert chained.survivor_id == a.id
    assert c.merged_into_id == a.id
    with pytest.raises(Conflict):
        merging.merge(db, workspace.id, a.id, b.id, reason="again", actor="t")


def test_undo_waits_for_a_later_merge_of_the_survivor(
    db: Session, workspace: WorkspaceFixture
) -> None:
    a, b, c = (Customer(workspace_id=workspace.id) for _ in range(3))
    db.add_all([a, b, c])
    db.flush()
    first = merging.merge(db, workspace.id, a.id, b.id, reason="one", actor="t")
    second = merging.merge(db, workspace.id, c.id, a.id, reason="two", actor="t")

    with pytest.raises(Conflict, match="undo that merge first"):
        merging.unmerge(db, workspace.id, first.id, actor="t")

    merging.unmerge(db, workspace.id, second.id, actor="t")
    merging.unmerge(db, workspace.id, first.id, actor="t")
    assert (a.merged_into_id, b.merged_into_id) == (None, None)
    with pytest.raises(Conflict, match="already undone"):
        merging.unmerge(db, workspace.id, first.id, actor="t")


def test_undo_refuses_when_a_later_merge_dropped_a_tag_this_one_brought(
    db: Session, workspace: WorkspaceFixture
) -> None:
    w = build_world(db, workspace.id)
    first = merging.merge(db, w.workspace_id, w.survivor.id, w.merged.id, reason="x", actor="t")
    third = Customer(workspace_id=w.workspace_id)
    db.add(third)
    db.flush()
    db.add(
        CustomerTag(
            workspace_id=w.workspace_id,
            customer_id=third.id,
            tag_id=w.other_tag.id,
            source="manual",
        )
    )
    db.flush()
    merging.merge(db, w.workspace_id, w.survivor.id, third.id, reason="y", actor="t")

    with pytest.raises(Conflict, match="relies on"):
        merging.unmerge(db, w.workspace_id, first.id, actor="t")


def test_customers_of_another_workspace_cannot_be_merged(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    one, two = make_workspace(), make_workspace()
    mine, theirs = Customer(workspace_id=one.id), Customer(workspace_id=two.id)
    db.add_all([mine, theirs])
    db.flush()

    with pytest.raises(NotFound):
        merging.merge(db, one.id, mine.id, theirs.id, reason="x", actor="t")
    with pytest.raises(NotFound):
        merging.merge(db, two.id, mine.id, theirs.id, reason="x", actor="t")
    record = merging.merge(db, one.id, mine.id, new_customer(db, one.id).id, reason="x", actor="t")
    with pytest.raises(NotFound):
        merging.unmerge(db, two.id, record.id, actor="t")
    with pytest.raises(NotFound):
        merging.merge_history(db, two.id, mine.id)


def new_customer(db: Session, workspace_id: int) -> Customer:
    customer = Customer(workspace_id=workspace_id)
    db.add(customer)
    db.flush()
    return customer


def test_a_customer_cannot_be_merged_into_itself(db: Session, workspace: WorkspaceFixture) -> None:
    customer = Customer(workspace_id=workspace.id)
    db.add(customer)
    db.flush()

    with pytest.raises(ValidationFailed) as caught:
        merging.merge(db, workspace.id, customer.id, customer.id, reason="x", actor="t")
    assert caught.value.field == "merged_id"
    assert db.scalar(select(MergeRecord)) is None


def test_unmerge_skips_kept_rows_whose_tag_or_staff_member_is_gone(
    db: Session, workspace: WorkspaceFixture
) -> None:
    w = build_world(db, workspace.id)
    record = merging.merge(db, w.workspace_id, w.survivor.id, w.merged.id, reason="x", actor="t")
    db.delete(w.shared_tag)
    db.delete(w.shared_staff)
    db.flush()

    merging.unmerge(db, w.workspace_id, record.id, actor="t")

    db.expire_all()
    assert owned_by(db, CustomerTag, w.merged.id) == 1
    assert owned_by(db, FollowRelation, w.merged.id) == 1


def test_merge_keeps_every_opt_out_of_both_records_and_unmerge_puts_them_back(
    db: Session, workspace: WorkspaceFixture
) -> None:
    survivor = Customer(workspace_id=workspace.id, name="王芳")
    merged = Customer(workspace_id=workspace.id, name="王芳")
    db.add_all([survivor, merged])
    db.flush()
    db.add_all(
        [
            siyu.models.OptOut(
                workspace_id=workspace.id, customer_id=survivor.id, channel="email", source="t"
            ),
            siyu.models.OptOut(
                workspace_id=workspace.id, customer_id=merged.id, channel="email", source="t"
            ),
            siyu.models.OptOut(
                workspace_id=workspace.id, customer_id=merged.id, channel="sms", source="t"
            ),
        ]
    )
    db.flush()

    def channels(customer_id: int) -> set[str]:
        return set(
            db.scalars(
                select(siyu.models.OptOut.channel).where(
                    siyu.models.OptOut.customer_id == customer_id
                )
            )
        )

    record = merging.merge(db, workspace.id, survivor.id, merged.id, reason="x", actor="t")
    assert channels(survivor.id) == {"email", "sms"}

    merging.unmerge(db, workspace.id, record.id, actor="t")
    assert channels(survivor.id) == {"email"}
    assert channels(merged.id) == {"email", "sms"}
