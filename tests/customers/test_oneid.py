import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from siyu.customers import oneid
from siyu.customers.identities import IdentityRef, normalize
from siyu.db.session import session_factory
from siyu.exceptions import Conflict, NotFound
from siyu.models import Customer, Identity, MergeRecord, Workspace
from tests.conftest import MakeWorkspace, WorkspaceFixture


def ids(**values: str) -> list[IdentityRef]:
    return [normalize(kind, value) for kind, value in values.items()]


def customer_count(db: Session, workspace_id: int) -> int:
    return (
        db.scalar(
            select(func.count()).select_from(Customer).where(Customer.workspace_id == workspace_id)
        )
        or 0
    )


def owner_of(db: Session, workspace_id: int, kind: str, value: str) -> int | None:
    return oneid.find_customer_id(db, workspace_id, normalize(kind, value))


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_unknown_record_creates_a_customer_with_all_its_identities(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = oneid.resolve(
        db,
        workspace.id,
        ids(mobile="138 0013 8000", email="Li@Example.com", wechat_unionid="u1"),
        source="import",
    )

    assert result.created
    assert result.merged_customer_ids == []
    customer = db.get(Customer, result.customer_id)
    assert customer is not None
    assert (customer.mobile, customer.mobile_last4, customer.email, customer.source) == (
        "+8613800138000",
        "8000",
        "li@example.com",
        "import",
    )
    assert result.customer_id is not None
    kinds = {i.kind: i.value for i in oneid.identities_of(db, workspace.id, result.customer_id)}
    assert kinds == {
        "mobile": "+8613800138000",
        "email": "li@example.com",
        "wechat_unionid": "u1",
    }


def test_record_matching_one_customer_joins_it_and_adds_what_it_lacks(
    db: Session, workspace: WorkspaceFixture
) -> None:
    first = oneid.resolve(db, workspace.id, ids(mobile="13800138000"), source="api")

    again = oneid.resolve(
        db, workspace.id, ids(mobile="+86 138 0013 8000", email="a@b.com"), source="api"
    )

    assert again.customer_id == first.customer_id
    assert not again.created
    assert owner_of(db, workspace.id, "email", "a@b.com") == first.customer_id
    customer = db.get(Customer, first.customer_id)
    assert customer is not None
    assert (customer.mobile, customer.email) == ("+8613800138000", "a@b.com")
    assert customer_count(db, workspace.id) == 1


def test_record_linking_two_customers_by_a_strong_kind_merges_them_into_the_oldest(
    db: Session, workspace: WorkspaceFixture
) -> None:
    older = oneid.resolve(db, workspace.id, ids(mobile="13800138000"), source="api")
    newer = oneid.resolve(db, workspace.id, ids(wechat_unionid="u1", email="x@y.com"), source="api")
    assert older.customer_id is not None
    assert newer.customer_id is not None

    linked = oneid.resolve(
        db, workspace.id, ids(wechat_unionid="u1", mobile="13800138000"), source="wecom"
    )

    assert linked.customer_id == older.customer_id
    assert linked.merged_customer_ids == [newer.customer_id]
    merged = db.get(Customer, newer.customer_id)
    assert merged is not None
    assert merged.merged_into_id == older.customer_id
    assert owner_of(db, workspace.id, "email", "x@y.com") == older.customer_id
    assert oneid.identities_of(db, workspace.id, newer.customer_id) == []
    record = db.scalar(select(MergeRecord).where(MergeRecord.workspace_id == workspace.id))
    assert record is not None
    assert record.reason == "wecom: shared wechat_unionid, mobile"


def test_record_linking_customers_by_a_weak_kind_merges_nothing_and_takes_nothing(
    db: Session, workspace: WorkspaceFixture
) -> None:
    by_mobile = oneid.resolve(db, workspace.id, ids(mobile="13800138000"), source="api")
    by_email = oneid.resolve(db, workspace.id, ids(email="shared@x.com"), source="api")

    result = oneid.resolve(
        db,
        workspace.id,
        ids(email="shared@x.com", mobile="13800138000", taobao_buyer_id="tb1"),
        source="api",
    )

    assert result.customer_id == by_mobile.customer_id
    assert result.merged_customer_ids == []
    assert owner_of(db, workspace.id, "email", "shared@x.com") == by_email.customer_id
    assert owner_of(db, workspace.id, "taobao_buyer_id", "tb1") == by_mobile.customer_id
    assert db.scalar(select(func.count()).select_from(MergeRecord)) == 0


def test_weak_only_conflict_goes_to_the_customer_of_the_strongest_identity(
    db: Session, workspace: WorkspaceFixture
) -> None:
    by_email = oneid.resolve(db, workspace.id, ids(email="a@x.com"), source="api")
    by_buyer = oneid.resolve(db, workspace.id, ids(jd_buyer_id="jd1"), source="api")

    result = oneid.resolve(db, workspace.id, ids(jd_buyer_id="jd1", email="a@x.com"), source="api")

    assert result.customer_id == by_email.customer_id
    assert result.customer_id != by_buyer.customer_id


def test_merge_kinds_are_the_workspace_rules(db: Session, workspace: WorkspaceFixture) -> None:
    ws = db.get(Workspace, workspace.id)
    assert ws is not None
    ws.merge_kinds = ["email"]
    first = oneid.resolve(db, workspace.id, ids(mobile="13800138000"), source="api")
    second = oneid.resolve(db, workspace.id, ids(wechat_unionid="u1"), source="api")
    oneid.resolve(db, workspace.id, ids(mobile="13800138000", wechat_unionid="u1"), source="api")
    assert customer_count(db, workspace.id) == 2

    third = oneid.resolve(db, workspace.id, ids(email="e@x.com"), source="api")
    result = oneid.resolve(
        db, workspace.id, ids(email="e@x.com", wechat_unionid="u1"), source="api"
    )
    assert result.customer_id == third.customer_id
    assert result.merged_customer_ids == []

    merged = oneid.resolve(
        db, workspace.id, ids(email="e@x.com", mobile="13800138000"), source="api"
    )
    assert merged.merged_customer_ids == []
    assert {first.customer_id, second.customer_id, third.customer_id} == {
        owner_of(db, workspace.id, "mobile", "13800138000"),
        owner_of(db, workspace.id, "wechat_unionid", "u1"),
        owner_of(db, workspace.id, "email", "e@x.com"),
    }


def test_lookup_without_create_returns_none_and_writes_nothing(
    db: Session, workspace: WorkspaceFixture
) -> None:
    result = oneid.resolve(db, workspace.id, ids(mobile="13800138000"), create=False, source="api")

    assert result == oneid.Resolution(None, False, [])
    assert customer_count(db, workspace.id) == 0


def test_the_same_identity_in_two_workspaces_is_two_customers(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    one, two = make_workspace(), make_workspace()

    a = oneid.resolve(db, one.id, ids(mobile="13800138000"), source="api")
    b = oneid.resolve(db, two.id, ids(mobile="13800138000"), source="api")

    assert a.customer_id != b.customer_id
    assert owner_of(db, one.id, "mobile", "13800138000") == a.customer_id
    assert owner_of(db, two.id, "mobile", "13800138000") == b.customer_id


def test_batch_sees_customers_created_earlier_in_the_same_batch(
    db: Session, workspace: WorkspaceFixture
) -> None:
    existing = oneid.resolve(db, workspace.id, ids(wechat_unionid="old"), source="api")

    results = oneid.resolve_many(
        db,
        workspace.id,
        [
            ids(mobile="13800138000"),
            ids(mobile="13800138000", email="a@x.com"),
            ids(email="a@x.com"),
            ids(mobile="13900139000"),
            ids(wechat_unionid="old", email="b@x.com"),
            [],
        ],
        source="events",
    )

    first = results[0].customer_id
    assert [r.customer_id for r in results[:3]] == [first, first, first]
    assert [r.created for r in results] == [True, False, False, True, False, False]
    assert results[3].customer_id not in {first, None}
    assert results[4].customer_id == existing.customer_id
    assert results[5].customer_id is None
    assert customer_count(db, workspace.id) == 3
    assert owner_of(db, workspace.id, "email", "b@x.com") == existing.customer_id


def test_batch_merges_in_batch_customers_and_reports_only_live_ones(
    db: Session, workspace: WorkspaceFixture
) -> None:
    results = oneid.resolve_many(
        db,
        workspace.id,
        [
            ids(mobile="13800138000"),
            ids(wechat_unionid="u1"),
            ids(mobile="13800138000", wechat_unionid="u1"),
            ids(wechat_unionid="u1", email="later@x.com"),
        ],
        source="events",
    )

    survivor = results[0].customer_id
    assert {r.customer_id for r in results} == {survivor}
    assert results[1].created
    assert len(results[2].merged_customer_ids) == 1
    assert owner_of(db, workspace.id, "email", "later@x.com") == survivor
    live = db.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.workspace_id == workspace.id, Customer.merged_into_id.is_(None))
    )
    assert live == 1


def test_resolving_a_thousand_records_takes_a_constant_number_of_statements(
    db: Session, engine: Engine, workspace: WorkspaceFixture
) -> None:
    oneid.resolve_many(
        db,
        workspace.id,
        [ids(app_user_id=f"user-{n}") for n in range(0, 1000, 2)],
        source="seed",
    )
    db.commit()
    batch = [
        ids(app_user_id=f"user-{n}", mobile=f"+86139{n:08d}", email=f"u{n}@x.com")
        for n in range(1000)
    ]
    batch[10] = batch[11]  # an in-batch duplicate of a new record: user-10 stays as it was

    with count_statements(engine) as statements:
        results = oneid.resolve_many(db, workspace.id, batch, source="events")

    assert len(statements) <= 10, statements
    assert sum(r.created for r in results) == 500
    assert customer_count(db, workspace.id) == 1000
    assert results[10].customer_id == results[11].customer_id
    identity_count = db.scalar(
        select(func.count()).select_from(Identity).where(Identity.workspace_id == workspace.id)
    )
    assert identity_count == 500 + 499 * 2 + 500 * 3


def test_find_customer_id_of_unknown_identity_is_none(
    db: Session, workspace: WorkspaceFixture
) -> None:
    assert owner_of(db, workspace.id, "mobile", "13800138000") is None


def test_adding_an_unowned_identity_attaches_it_and_fills_the_profile(
    db: Session, workspace: WorkspaceFixture
) -> None:
    customer_id = oneid.resolve(
        db, workspace.id, ids(wechat_unionid="u1"), source="api"
    ).customer_id
    assert customer_id is not None

    result = oneid.add_identity(
        db, workspace.id, customer_id, normalize("mobile", "13800138000"), source="api", actor="t"
    )

    assert result == oneid.Resolution(customer_id, False, [])
    customer = db.get(Customer, customer_id)
    assert customer is not None
    assert customer.mobile == "+8613800138000"


def test_adding_a_strong_identity_of_another_customer_merges_them(
    db: Session, workspace: WorkspaceFixture
) -> None:
    older = oneid.resolve(db, workspace.id, ids(mobile="13800138000"), source="api").customer_id
    newer = oneid.resolve(db, workspace.id, ids(wechat_unionid="u1"), source="api").customer_id
    assert older is not None
    assert newer is not None

    result = oneid.add_identity(
        db, workspace.id, newer, normalize("mobile", "13800138000"), source="api", actor="t"
    )

    assert result == oneid.Resolution(older, False, [newer])
    assert owner_of(db, workspace.id, "wechat_unionid", "u1") == older


def test_adding_a_weak_identity_of_another_customer_is_a_conflict_naming_the_field(
    db: Session, workspace: WorkspaceFixture
) -> None:
    oneid.resolve(db, workspace.id, ids(email="a@x.com"), source="api")
    other = oneid.resolve(db, workspace.id, ids(wechat_unionid="u1"), source="api").customer_id
    assert other is not None

    with pytest.raises(Conflict) as caught:
        oneid.add_identity(
            db, workspace.id, other, normalize("email", "a@x.com"), source="api", actor="t"
        )
    assert caught.value.details["field"] == "value"


def test_removing_the_shown_mobile_shows_another_one(
    db: Session, workspace: WorkspaceFixture
) -> None:
    customer_id = oneid.resolve(
        db, workspace.id, ids(mobile="13800138000"), source="api"
    ).customer_id
    assert customer_id is not None
    oneid.add_identity(
        db, workspace.id, customer_id, normalize("mobile", "13900139000"), source="api", actor="t"
    )
    first = oneid.identities_of(db, workspace.id, customer_id)[0]

    oneid.remove_identity(db, workspace.id, customer_id, first.id)

    customer = db.get(Customer, customer_id)
    assert customer is not None
    assert (customer.mobile, customer.mobile_last4) == ("+8613900139000", "9000")
    assert owner_of(db, workspace.id, "mobile", "13800138000") is None


def test_identities_of_another_workspace_are_not_found(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    one, two = make_workspace(), make_workspace()
    customer_id = oneid.resolve(db, one.id, ids(mobile="13800138000"), source="api").customer_id
    assert customer_id is not None

    with pytest.raises(NotFound):
        oneid.identities_of(db, two.id, customer_id)
    identity = oneid.identities_of(db, one.id, customer_id)[0]
    with pytest.raises(NotFound):
        oneid.remove_identity(db, two.id, customer_id, identity.id)


@pytest.mark.postgres_only
def test_identity_attached_concurrently_is_joined_not_duplicated(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    first = session_factory(engine)()
    second = session_factory(engine)()
    try:
        winner = oneid.resolve(first, workspace.id, ids(mobile="13800138000"), source="a")
        with ThreadPoolExecutor(1) as pool:
            # Its SELECT sees nothing yet; its INSERT waits on the first transaction's row.
            racing = pool.submit(
                oneid.resolve, second, workspace.id, ids(mobile="13800138000"), source="b"
            )
            waited = wait_for_a_lock_wait(engine)
            first.commit()
            loser = racing.result(timeout=10)
        second.commit()
    finally:
        first.close()
        second.close()

    assert waited, "the racing transaction never waited on the identity row"
    assert loser.customer_id == winner.customer_id
    assert not loser.created


def wait_for_a_lock_wait(engine: Engine) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(100):
        with engine.connect() as connection:  # a fresh snapshot of the activity view
            if connection.execute(query).scalar():
                return True
        time.sleep(0.05)
    return False
