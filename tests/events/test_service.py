"""Event ingest: idempotency, per-event rejection, customer resolution, stats, timeline."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.customers import merging, oneid
from siyu.customers.identities import normalize
from siyu.events import registry, service
from siyu.events.repository import EventRepository
from siyu.events.schemas import EventSettings, EventTypeIn, IngestIn
from siyu.events.service import IngestResult
from siyu.exceptions import PayloadTooLarge
from siyu.kit.time import utcnow
from siyu.kit.timeline import TimelineCursor
from siyu.models import Customer, Event, EventType
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


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


def _ingest(db: Session, workspace_id: int, events: list[Any], **envelope: Any) -> IngestResult:
    body = IngestIn.model_validate({"events": events, **envelope})
    result = service.ingest(
        db, workspace_id, body.events, unknown_customers=body.unknown_customers, actor="test"
    )
    db.flush()
    return result


def _statuses(result: IngestResult) -> list[str]:
    return [r.status for r in result.results]


def _errors(result: IngestResult, index: int) -> dict[str, str]:
    return {e.field: e.message for e in result.results[index].errors}


def _stored(db: Session, workspace_id: int) -> list[Event]:
    return list(
        db.scalars(select(Event).where(Event.workspace_id == workspace_id).order_by(Event.id))
    )


def _customer_id(db: Session, workspace_id: int, mobile: str) -> int:
    found = oneid.find_customer_id(db, workspace_id, normalize("mobile", mobile))
    assert found is not None
    return found


def test_events_are_stored_for_customers_found_or_created_by_identity(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = _ingest(
        db,
        workspace.id,
        [
            _event("a"),
            _event("b", customer={"kind": "mobile", "value": "+86 138 0013 8000"}),
            _event("c", customer={"identities": [{"kind": "email", "value": "Li@Example.com"}]}),
        ],
    )

    assert (result.accepted, result.duplicates, result.rejected) == (3, 0, 0)
    customer_id = _customer_id(db, workspace.id, "13800138000")
    assert [r.customer_id for r in result.results[:2]] == [customer_id, customer_id]
    assert result.results[2].customer_id not in (None, customer_id)
    stored = _stored(db, workspace.id)
    assert [(e.event_key, e.event_type, e.occurred_at) for e in stored] == [
        ("a", "page_view", T0),
        ("b", "page_view", T0),
        ("c", "page_view", T0),
    ]
    assert stored[0].properties == {"url": "/p/1"}


def test_resending_a_batch_stores_nothing_twice(db: Session, workspace: WorkspaceFixture) -> None:
    batch = [_event("a"), _event("b")]
    _ingest(db, workspace.id, batch)

    again = _ingest(db, workspace.id, [*batch, _event("c")])

    assert _statuses(again) == ["duplicate", "duplicate", "accepted"]
    assert [e.event_key for e in _stored(db, workspace.id)] == ["a", "b", "c"]


def test_id_repeated_within_a_batch_is_a_duplicate_of_the_first(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = _ingest(
        db,
        workspace.id,
        [_event("x", occurred_at="bad"), _event("x"), _event("x", type="other")],
    )

    assert _statuses(result) == ["rejected", "accepted", "duplicate"]
    (stored,) = _stored(db, workspace.id)
    assert stored.event_type == "page_view"


def test_same_id_in_two_workspaces_is_two_events(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    first, second = make_workspace(), make_workspace()
    assert _ingest(db, first.id, [_event("a")]).accepted == 1
    assert _ingest(db, second.id, [_event("a")]).accepted == 1


def test_bad_events_are_rejected_one_by_one_while_good_ones_are_stored(
    db: Session, workspace: WorkspaceFixture
) -> None:
    future = (utcnow() + timedelta(days=2)).isoformat()
    result = _ingest(
        db,
        workspace.id,
        [
            _event("ok-1"),
            _event("naive", occurred_at="2026-11-20T10:00:00"),
            _event("future", occurred_at=future),
            _event("bad-mobile", customer={"mobile": "12345"}),
            _event("bad-kind", customer={"identities": [{"kind": "qq", "value": "1"}]}),
            _event("no-customer", customer={}),
            _event("both", customer={"customer_id": 1, "mobile": "13800138000"}),
            {"id": "extra", "type": "page_view", "occurred_at": "2026-11-20T10:00:00Z"},
            "not an object",
            _event("ok-2"),
        ],
    )

    assert _statuses(result) == ["accepted", *["rejected"] * 8, "accepted"]
    assert list(_errors(result, 1)) == ["events[1].occurred_at"]
    assert "timezone" in _errors(result, 1)["events[1].occurred_at"]
    assert _errors(result, 2) == {"events[2].occurred_at": "is more than one day in the future"}
    assert list(_errors(result, 3)) == ["events[3].customer.mobile"]
    assert "not a valid phone number" in _errors(result, 3)["events[3].customer.mobile"]
    assert list(_errors(result, 4)) == ["events[4].customer.identities[0].value"]
    assert "unknown identity kind" in _errors(result, 4)["events[4].customer.identities[0].value"]
    assert _errors(result, 5) == {
        "events[5].customer": "name the customer by customer_id or by at least one identity"
    }
    assert list(_errors(result, 6)) == ["events[6].customer"]
    assert list(_errors(result, 7)) == ["events[7].customer"]
    assert result.results[7].id == "extra"
    assert result.results[8].id is None
    assert list(_errors(result, 8)) == ["events[8]"]
    assert [e.event_key for e in _stored(db, workspace.id)] == ["ok-1", "ok-2"]


def test_properties_must_satisfy_the_types_schema(db: Session, workspace: WorkspaceFixture) -> None:
    registry.create_type(
        db,
        Principal(workspace.id, Role.OPERATOR),
        EventTypeIn(
            name="order_paid",
            properties_schema={
                "properties": {
                    "amount_fen": {"type": "integer", "minimum": 1},
                    "items": {"type": "array", "items": {"required": ["sku"]}},
                },
                "required": ["amount_fen"],
            },
        ),
    )

    result = _ingest(
        db,
        workspace.id,
        [
            _event("1", type="order_paid", properties={"amount_fen": 100}),
            _event("2", type="order_paid", properties={"amount_fen": "100"}),
            _event("3", type="order_paid", properties={}),
            _event("4", type="order_paid", properties={"amount_fen": 1, "items": [{}]}),
        ],
    )

    assert _statuses(result) == ["accepted", "rejected", "rejected", "rejected"]
    assert _errors(result, 1) == {"events[1].properties.amount_fen": "must be integer"}
    assert list(_errors(result, 2)) == ["events[2].properties"]
    assert "amount_fen" in _errors(result, 2)["events[2].properties"]
    assert list(_errors(result, 3)) == ["events[3].properties.items[0]"]


def test_unknown_type_is_registered_with_an_empty_schema_by_default(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = _ingest(
        db,
        workspace.id,
        [
            _event("a", type="coupon_claimed"),
            _event("b", type="never_stored", occurred_at="2026-11-20T10:00:00"),
        ],
    )

    assert _statuses(result) == ["accepted", "rejected"]
    registered = registry.get_type(db, workspace.id, "coupon_claimed")
    assert (registered.display_name, registered.properties_schema) == ("coupon_claimed", {})
    assert db.scalar(select(EventType).where(EventType.name == "never_stored")) is None


def test_unknown_type_is_rejected_when_the_workspace_says_so(
    db: Session, workspace: WorkspaceFixture
) -> None:
    registry.update_settings(
        db, Principal(workspace.id, Role.ADMIN), EventSettings(unknown_types="reject")
    )
    registry.create_type(db, Principal(workspace.id, Role.OPERATOR), EventTypeIn(name="known"))

    result = _ingest(db, workspace.id, [_event("a", type="typo"), _event("b", type="known")])

    assert _statuses(result) == ["rejected", "accepted"]
    assert list(_errors(result, 0)) == ["events[0].type"]
    assert db.scalar(select(EventType).where(EventType.name == "typo")) is None


def test_unknown_customers_are_rejected_when_asked(
    db: Session, workspace: WorkspaceFixture
) -> None:
    _ingest(db, workspace.id, [_event("known")])

    result = _ingest(
        db,
        workspace.id,
        [_event("a", customer={"mobile": "13900139000"}), _event("b")],
        unknown_customers="reject",
    )

    assert _statuses(result) == ["rejected", "accepted"]
    assert list(_errors(result, 0)) == ["events[0].customer"]
    assert oneid.find_customer_id(db, workspace.id, normalize("mobile", "13900139000")) is None


def test_customer_id_must_belong_to_the_workspace(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ours, theirs = make_workspace(), make_workspace()
    _ingest(db, ours.id, [_event("mine")])
    _ingest(db, theirs.id, [_event("theirs", customer={"mobile": "13900139000"})])
    our_customer = _customer_id(db, ours.id, "13800138000")
    their_customer = _customer_id(db, theirs.id, "13900139000")

    result = _ingest(
        db,
        ours.id,
        [
            _event("a", customer={"customer_id": our_customer}),
            _event("b", customer={"customer_id": their_customer}),
            _event("c", customer={"customer_id": 987654321}),
        ],
    )

    assert _statuses(result) == ["accepted", "rejected", "rejected"]
    assert result.results[0].customer_id == our_customer
    assert list(_errors(result, 1)) == ["events[1].customer.customer_id"]
    assert list(_errors(result, 2)) == ["events[2].customer.customer_id"]


def test_event_for_a_merged_customer_lands_on_the_survivor(
    db: Session, workspace: WorkspaceFixture
) -> None:
    _ingest(db, workspace.id, [_event("a"), _event("b", customer={"mobile": "13900139000"})])
    survivor = _customer_id(db, workspace.id, "13800138000")
    merged = _customer_id(db, workspace.id, "13900139000")
    merging.merge(db, workspace.id, survivor, merged, reason="same person", actor="test")

    result = _ingest(db, workspace.id, [_event("c", customer={"customer_id": merged})])

    assert result.results[0].customer_id == survivor
    assert _stored(db, workspace.id)[-1].customer_id == survivor


def test_a_new_person_named_by_several_events_of_a_batch_is_created_once(
    db: Session, workspace: WorkspaceFixture
) -> None:
    mobile = {"mobile": "13900139000"}
    unionid = {"wechat_unionid": "o6_li"}
    both = {
        "identities": [
            {"kind": "mobile", "value": "13900139000"},
            {"kind": "wechat_unionid", "value": "o6_li"},
        ]
    }

    result = _ingest(
        db,
        workspace.id,
        [
            _event("a", customer=mobile),
            _event("b", customer=unionid),
            _event("c", customer=mobile),
            _event("d", customer=both),
            _event("e", customer=unionid),
        ],
    )

    # "a" created one customer and "b" another; "d" names both by merging kinds: one person.
    survivor = _customer_id(db, workspace.id, "13900139000")
    assert [r.customer_id for r in result.results] == [survivor] * 5
    assert {e.customer_id for e in _stored(db, workspace.id)} == {survivor}
    live = db.scalars(
        select(Customer.id).where(
            Customer.workspace_id == workspace.id, Customer.merged_into_id.is_(None)
        )
    ).all()
    assert list(live) == [survivor]


def test_unknown_person_named_by_several_events_rejects_each_when_asked(
    db: Session, workspace: WorkspaceFixture
) -> None:
    known = _ingest(db, workspace.id, [_event("a")]).results[0].customer_id
    stranger = {"mobile": "13900139000"}

    result = _ingest(
        db,
        workspace.id,
        [_event("b", customer=stranger), _event("c"), _event("d", customer=stranger)],
        unknown_customers="reject",
    )

    assert _statuses(result) == ["rejected", "accepted", "rejected"]
    assert result.results[1].customer_id == known
    assert list(_errors(result, 2)) == ["events[2].customer"]


def test_ingest_keeps_last_active_at_current_and_never_moves_it_back(
    db: Session, workspace: WorkspaceFixture
) -> None:
    _ingest(
        db,
        workspace.id,
        [
            _event("a", occurred_at="2026-11-20T10:00:00+08:00"),
            _event("b", occurred_at="2026-11-21T09:30:00+08:00"),
        ],
    )
    customer = db.get(Customer, _customer_id(db, workspace.id, "13800138000"))
    assert customer is not None
    assert customer.last_active_at == datetime(2026, 11, 21, 1, 30, tzinfo=UTC)

    _ingest(db, workspace.id, [_event("older", occurred_at="2026-11-01T00:00:00Z")])
    db.refresh(customer)
    assert customer.last_active_at == datetime(2026, 11, 21, 1, 30, tzinfo=UTC)

    ahead = (utcnow() + timedelta(hours=12)).isoformat()
    _ingest(db, workspace.id, [_event("clock-skew", occurred_at=ahead)])
    db.refresh(customer)
    assert customer.last_active_at is not None
    assert customer.last_active_at <= utcnow(), "activity is never in the future"


def test_more_than_a_thousand_events_are_refused(db: Session, workspace: WorkspaceFixture) -> None:
    with pytest.raises(PayloadTooLarge):
        _ingest(db, workspace.id, [_event(f"e{i}") for i in range(1001)])


def test_a_full_batch_of_a_thousand_is_stored(db: Session, workspace: WorkspaceFixture) -> None:
    events = [
        _event(f"e{i}", customer={"app_user_id": f"user-{i % 250}"}, properties={"i": i})
        for i in range(1000)
    ]

    result = _ingest(db, workspace.id, events)

    assert result.accepted == 1000
    assert len({r.customer_id for r in result.results}) == 250
    assert len(_stored(db, workspace.id)) == 1000


def test_key_stored_concurrently_after_the_duplicate_check_is_a_duplicate(
    db: Session, workspace: WorkspaceFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ingest(db, workspace.id, [_event("raced")])
    # As if another request stored "raced" between our SELECT of keys and our INSERT.
    monkeypatch.setattr(EventRepository, "existing_keys", lambda _self, _keys: set())

    result = _ingest(db, workspace.id, [_event("raced"), _event("new")])

    assert _statuses(result) == ["duplicate", "accepted"]
    assert [e.event_key for e in _stored(db, workspace.id)] == ["raced", "new"]


def test_timeline_lists_a_customers_events_newest_first_in_pages(
    db: Session, make_workspace: MakeWorkspace, engine: Engine
) -> None:
    workspace, other = make_workspace(), make_workspace()
    registry.create_type(
        db,
        Principal(workspace.id, Role.OPERATOR),
        EventTypeIn(name="page_view", display_name="浏览页面"),
    )
    _ingest(
        db,
        workspace.id,
        [
            _event("old", occurred_at="2026-11-01T00:00:00Z"),
            _event("mid-1", occurred_at="2026-11-02T00:00:00Z", type="share"),
            _event("mid-2", occurred_at="2026-11-02T00:00:00Z", type="share"),
            _event("new", occurred_at="2026-11-03T00:00:00Z"),
            _event("someone-else", customer={"mobile": "13900139000"}),
        ],
    )
    _ingest(db, other.id, [_event("other-workspace")])
    customer_id = _customer_id(db, workspace.id, "13800138000")

    first = service.timeline_entries(db, workspace.id, customer_id, before=None, limit=2)
    rest = service.timeline_entries(db, workspace.id, customer_id, before=first[-1].cursor, limit=5)

    assert [e.data["key"] for e in first] == ["new", "mid-2"]
    assert [e.data["key"] for e in rest] == ["mid-1", "old"]
    assert {e.kind for e in first + rest} == {"event"}
    assert (first[0].title, first[1].title) == ("浏览页面", "share")
    assert first[0].data["properties"] == {"url": "/p/1"}
    far_future = TimelineCursor(datetime(2030, 1, 1, tzinfo=UTC), "event", 0)
    assert len(service.timeline_entries(db, other.id, customer_id, before=far_future, limit=9)) == 0
