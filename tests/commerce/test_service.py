from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.commerce import service
from siyu.commerce.repository import EXPORT_REFUND_ID, CommerceRepository, ExistingOrder
from siyu.commerce.schemas import OrderIn, OrderItemIn, RefundIn, UpsertResult
from siyu.connectors.commerce import OrderStatus, Platform
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.timeline import TimelineCursor
from siyu.models import Customer, Order, OrderItem, Refund
from siyu.workspace.principal import Principal
from tests.conftest import MakeWorkspace, WorkspaceFixture

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def order(
    order_id: str,
    *,
    paid: int = 10000,
    status: OrderStatus = OrderStatus.COMPLETED,
    buyer: str | None = "jd_buyer_1",
    mobile: str | None = None,
    at: datetime = T0,
    refunded: int = 0,
    items: list[OrderItemIn] | None = None,
) -> OrderIn:
    return OrderIn(
        platform=Platform.JD,
        platform_order_id=order_id,
        status=status,
        ordered_at=at,
        paid_fen=paid,
        total_fen=paid,
        refunded_fen=refunded,
        buyer_id=buyer,
        receiver_mobile=mobile,
        items=items or [],
    )


def upsert(db: Session, workspace_id: int, *orders: OrderIn) -> UpsertResult:
    result = service.upsert_orders(db, workspace_id, list(orders), source="test", actor="test")
    db.flush()
    return result


def customer(db: Session, customer_id: int | None) -> Customer:
    assert customer_id is not None
    db.expire_all()
    found = db.get(Customer, customer_id)
    assert found is not None
    return found


def test_naive_times_from_the_api_are_read_as_shanghai() -> None:
    parsed = OrderIn.model_validate(
        {
            "platform": "jd",
            "platform_order_id": "1",
            "status": "paid",
            "ordered_at": "2024-05-01T18:00:00",
        }
    )
    assert parsed.ordered_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_upsert_reports_new_and_updated_orders_and_keeps_one_row_per_platform_id(
    db: Session, workspace: WorkspaceFixture
) -> None:
    first = upsert(db, workspace.id, order("A"), order("B"))
    second = upsert(db, workspace.id, order("B", status=OrderStatus.REFUNDED), order("C"))

    assert (first.imported, first.updated) == (2, 0)
    assert (second.imported, second.updated) == (1, 1)
    assert second.order_ids[("jd", "B")] == first.order_ids[("jd", "B")]
    assert db.scalar(select(func.count()).select_from(Order)) == 3


def test_the_same_order_twice_in_one_batch_is_written_once_last_wins(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = upsert(db, workspace.id, order("A", paid=1), order("A", paid=2))

    assert (result.imported, result.updated) == (1, 0)
    assert db.scalar(select(Order.paid_fen)) == 2


def test_buyer_orders_build_customer_stats_excluding_pending_and_cancelled(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = upsert(
        db,
        workspace.id,
        order("A", paid=10000, at=T0),
        order("B", paid=5000, at=T0 + timedelta(days=3)),
        order("C", paid=7000, status=OrderStatus.CANCELLED, at=T0 + timedelta(days=5)),
        order("D", paid=0, status=OrderStatus.PENDING, at=T0 + timedelta(days=6)),
    )

    ids = {db.get(Order, i).customer_id for i in result.order_ids.values()}  # type: ignore[union-attr]
    assert len(ids) == 1
    stats = customer(db, ids.pop())
    assert (stats.order_count, stats.total_paid_fen) == (2, 15000)
    assert (stats.first_order_at, stats.last_order_at) == (T0, T0 + timedelta(days=3))


def test_a_refund_reduces_total_paid_and_a_full_refund_marks_the_order_refunded(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = upsert(db, workspace.id, order("A", paid=10000), order("B", paid=4000))
    principal = Principal.system(workspace.id)
    a, b = result.order_ids[("jd", "A")], result.order_ids[("jd", "B")]

    service.add_refund(db, principal, a, RefundIn(amount_fen=2500, reason="少发一件"))
    service.add_refund(db, principal, b, RefundIn(amount_fen=4000))
    db.flush()

    placed = db.get(Order, a)
    assert placed is not None
    assert (placed.refunded_fen, placed.status) == (2500, "completed")
    assert db.get(Order, b).status == "refunded"  # type: ignore[union-attr]
    stats = customer(db, placed.customer_id)
    assert (stats.order_count, stats.total_paid_fen) == (1, 10000 - 2500)


def test_refunding_more_than_was_paid_or_twice_under_one_id_is_refused(
    db: Session, workspace: WorkspaceFixture
) -> None:
    order_id = upsert(db, workspace.id, order("A", paid=1000)).order_ids[("jd", "A")]
    principal = Principal.system(workspace.id)

    with pytest.raises(ValidationFailed) as too_much:
        service.add_refund(db, principal, order_id, RefundIn(amount_fen=1001))
    assert too_much.value.field == "amount_fen"
    service.add_refund(db, principal, order_id, RefundIn(amount_fen=100, platform_refund_id="R1"))
    with pytest.raises(Conflict):
        service.add_refund(db, principal, order_id, RefundIn(amount_fen=1, platform_refund_id="R1"))


def test_refunds_recorded_by_api_survive_a_later_platform_update(
    db: Session, workspace: WorkspaceFixture
) -> None:
    order_id = upsert(db, workspace.id, order("A", paid=1000)).order_ids[("jd", "A")]
    service.add_refund(db, Principal.system(workspace.id), order_id, RefundIn(amount_fen=300))
    upsert(db, workspace.id, order("A", paid=1000, refunded=200))
    db.expire_all()

    assert db.get(Order, order_id).refunded_fen == 500  # type: ignore[union-attr]
    kinds = set(db.scalars(select(Refund.platform_refund_id)))
    assert EXPORT_REFUND_ID in kinds
    assert len(kinds) == 2


def test_items_are_replaced_when_an_update_brings_items_and_kept_when_it_brings_none(
    db: Session, workspace: WorkspaceFixture
) -> None:
    two = [OrderItemIn(name="精华", amount_fen=600), OrderItemIn(name="面霜", amount_fen=400)]
    order_id = upsert(db, workspace.id, order("A", items=two)).order_ids[("jd", "A")]
    upsert(db, workspace.id, order("A", status=OrderStatus.SHIPPED))
    assert db.scalar(select(func.count()).select_from(OrderItem)) == 2

    upsert(db, workspace.id, order("A", items=[OrderItemIn(name="套装", amount_fen=1000)]))

    names = db.scalars(select(OrderItem.name).where(OrderItem.order_id == order_id)).all()
    assert names == ["套装"]


def test_masked_mobile_and_masked_buyer_do_not_create_customers(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = upsert(db, workspace.id, order("A", buyer="j***1", mobile="138****8000"))

    assert db.get(Order, result.order_ids[("jd", "A")]).customer_id is None  # type: ignore[union-attr]
    assert db.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_mobile_links_orders_of_two_platforms_to_one_customer(
    db: Session, workspace: WorkspaceFixture
) -> None:
    jd = upsert(db, workspace.id, order("A", buyer="jd_x", mobile="13800138000"))
    tmall = order("T1", buyer="tb_x", mobile="+86 138 0013 8000").model_copy(
        update={"platform": Platform.TMALL}
    )
    tm = upsert(db, workspace.id, tmall)

    a = db.get(Order, jd.order_ids[("jd", "A")])
    t = db.get(Order, tm.order_ids[("tmall", "T1")])
    assert a is not None
    assert t is not None
    assert a.customer_id == t.customer_id is not None
    assert customer(db, a.customer_id).order_count == 2


def test_timeline_lists_a_customers_orders_newest_first_in_pages(
    db: Session, workspace: WorkspaceFixture
) -> None:
    upsert(db, workspace.id, *(order(f"O{i}", at=T0 + timedelta(hours=i)) for i in range(3)))
    customer_id = db.scalar(select(Order.customer_id).limit(1))
    assert customer_id is not None

    first = service.timeline_entries(db, workspace.id, customer_id, before=None, limit=2)
    rest = service.timeline_entries(db, workspace.id, customer_id, before=first[-1].cursor, limit=2)

    assert [e.data["platform_order_id"] for e in first + rest] == ["O2", "O1", "O0"]
    assert first[0].kind == "order"
    assert first[0].title == "京东订单 O2"
    older = TimelineCursor(T0, "order", 0)
    assert service.timeline_entries(db, workspace.id, customer_id, before=older, limit=5) == []


def test_orders_summary_counts_paid_orders_and_gmv_per_platform_since_a_time(
    db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    upsert(
        db,
        workspace.id,
        order("old", paid=999, at=T0 - timedelta(days=40)),
        order("A", paid=1000),
        order("B", paid=2000),
        order("X", paid=5000, status=OrderStatus.CANCELLED),
    )
    upsert(db, other.id, order("A", paid=7777))

    summary = service.orders_summary(db, workspace.id, T0 - timedelta(days=1))

    assert [(s.platform, s.orders, s.gmv_fen) for s in summary] == [("jd", 2, 3000)]


def test_orders_of_another_workspace_are_not_found(
    db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = Principal.system(make_workspace().id)
    order_id = upsert(db, workspace.id, order("A")).order_ids[("jd", "A")]

    with pytest.raises(NotFound):
        service.get_order(db, other, order_id)
    with pytest.raises(NotFound):
        service.add_refund(db, other, order_id, RefundIn(amount_fen=1))


@pytest.mark.postgres_only
def test_an_order_another_writer_stored_since_the_lookup_is_updated_not_duplicated(
    db: Session, workspace: WorkspaceFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = upsert(db, workspace.id, order("R", status=OrderStatus.PAID))
    looked_up = CommerceRepository.existing_orders
    lookups: list[str] = []

    def stale_first_lookup(
        repo: CommerceRepository, platform: str, order_ids: Sequence[str]
    ) -> dict[str, ExistingOrder]:
        # The first lookup misses R, as one that ran before another writer stored it would.
        lookups.append(platform)
        return {} if len(lookups) == 1 else looked_up(repo, platform, order_ids)

    monkeypatch.setattr(CommerceRepository, "existing_orders", stale_first_lookup)
    again = upsert(db, workspace.id, order("R", status=OrderStatus.COMPLETED))

    assert (again.imported, again.updated) == (0, 1)
    assert again.order_ids == first.order_ids
    [stored] = db.scalars(select(Order).where(Order.workspace_id == workspace.id))
    db.refresh(stored)
    assert stored.status == "completed"
    assert customer(db, stored.customer_id).order_count == 1
