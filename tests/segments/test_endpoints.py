"""Segments over the API: build, preview, freshness, dependencies, static lists, snapshots."""

import codecs
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from siyu.db.session import unit_of_work
from siyu.models import AuditEntry, Customer, CustomerFeature, EventCounter, Identity, Job
from siyu.segments import compiler, evaluation, export, service
from siyu.tags import service as tags_service
from tests.conftest import WorkspaceFixture, commit_beside, impatient_writer

RunJobs = Callable[[], int]


@pytest.fixture
def people(engine: Engine, workspace: WorkspaceFixture) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        rows = {
            key: Customer(workspace_id=workspace.id, name=name, city=city, mobile=mobile)
            for key, name, city, mobile in (
                ("wang", "王芳", "上海", "+8613800138001"),
                ("li", "李娜", "杭州", "+8613800138002"),
                ("zhang", "张伟", "上海", None),
            )
        }
        session.add_all(rows.values())
        session.flush()
        ids = {key: c.id for key, c in rows.items()}
        session.add_all(
            Identity(workspace_id=workspace.id, customer_id=c.id, kind="mobile", value=c.mobile)
            for c in rows.values()
            if c.mobile
        )
        tag = tags_service.ensure_tags(session, workspace.id, [("兴趣", "绿茶")])[("兴趣", "绿茶")]
        tags_service.add_tags(
            session, workspace.id, [ids["wang"]], [tag], source="manual", actor="t"
        )
    return {"ids": ids, "tag": tag}


def _tagged(tag_id: int) -> dict[str, Any]:
    return {"type": "tag", "op": "has_any", "tag_ids": [tag_id]}


def _create(
    api: TestClient, name: str, rule: dict[str, Any] | None, kind: str = "dynamic"
) -> dict[str, Any]:
    response = api.post("/api/v1/segments", json={"name": name, "kind": kind, "rule": rule})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _members(api: TestClient, segment_id: int) -> set[int]:
    return {
        c["id"]
        for c in api.get(f"/api/v1/segments/{segment_id}/sample", params={"limit": 100}).json()
    }


def test_a_dynamic_segment_is_built_in_the_background_and_its_preview_agrees(
    api: TestClient, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    rule = {
        "all": [
            _tagged(people["tag"]),
            {"type": "profile", "field": "city", "op": "eq", "value": "上海"},
        ]
    }
    created = _create(api, "上海绿茶客", rule)
    assert created["status"] == "pending"

    run_jobs()

    built = api.get(f"/api/v1/segments/{created['id']}").json()
    assert (built["status"], built["member_count"]) == ("ready", 1)
    assert built["size_trend"][-1]["member_count"] == 1
    assert _members(api, created["id"]) == {people["ids"]["wang"]}
    previewed = api.post("/api/v1/segments/preview", json={"rule": rule, "sample_size": 5}).json()
    assert previewed["count"] == 1
    assert [c["name"] for c in previewed["sample"]] == ["王芳"]
    listed = api.get("/api/v1/segments").json()
    assert [s["name"] for s in listed] == ["上海绿茶客"]


def test_a_preview_asks_independent_branches_apart_and_holds_no_write_lock(
    api: TestClient, engine: Engine, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    in_city = {"type": "profile", "field": "city", "op": "in", "value": ["上海", "杭州"]}
    has_mobile = {"type": "identity", "op": "has", "kind": "mobile"}
    rule = {
        "all": [
            {
                "any": [
                    _tagged(people["tag"]),
                    {"type": "profile", "field": "name", "op": "eq", "value": "李娜"},
                ]
            },
            {"any": [in_city, {"type": "profile", "field": "city", "op": "is_not_set"}]},
            has_mobile,
        ]
    }
    asked: list[int] = []

    def while_another_writes(read: Callable[..., Any]) -> Callable[..., Any]:
        def reading(*args: Any, **kwargs: Any) -> Any:
            with impatient_writer(engine) as other:
                asked.append(other.execute(update(Customer).values(remark="跟进")).rowcount)
            return read(*args, **kwargs)

        return reading

    monkeypatch.setattr(evaluation, "compile_rule", while_another_writes(compiler.compile_rule))
    monkeypatch.setattr(tags_service, "bits_query", while_another_writes(tags_service.bits_query))
    api.get("/api/v1/segments")  # the key's first use is recorded (a write) before
    previewed = api.post("/api/v1/segments/preview", json={"rule": rule, "sample_size": 1})
    assert previewed.status_code == 200, previewed.text
    # three queries, the tag's kept bits and the check of "has a mobile" for the two
    # customers they leave
    assert asked == [3, 3, 3, 3, 3]
    assert previewed.json()["count"] == 2
    assert [c["name"] for c in previewed.json()["sample"]] == ["王芳"]


def test_bad_rules_are_refused_naming_the_json_path(
    api: TestClient, people: dict[str, Any]
) -> None:
    bad_op = {
        "all": [
            _tagged(people["tag"]),
            {"type": "profile", "field": "city", "op": "gte", "value": 1},
        ]
    }
    response = api.post("/api/v1/segments/preview", json={"rule": bad_op})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "rule.all[1].op"

    unknown_tag = {"any": [_tagged(999_999)]}
    response = api.post("/api/v1/segments", json={"name": "x", "rule": unknown_tag})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "rule.any[0].tag_ids"
    assert api.get("/api/v1/segments").json() == []


def test_a_tag_added_later_moves_the_customer_into_the_segment_and_records_the_change(
    api: TestClient, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    segment = _create(api, "绿茶客", _tagged(people["tag"]))
    run_jobs()
    li = people["ids"]["li"]

    assert (
        api.post(f"/api/v1/customers/{li}/tags", json={"tag_ids": [people["tag"]]}).status_code
        == 200
    )
    run_jobs()
    assert _members(api, segment["id"]) == {people["ids"]["wang"], li}

    api.delete(f"/api/v1/customers/{li}/tags", params={"tag_ids": [people["tag"]]})
    run_jobs()
    assert _members(api, segment["id"]) == {people["ids"]["wang"]}
    changes = api.get(f"/api/v1/segments/{segment['id']}/changes").json()["items"]
    assert [(c["customer_id"], c["change"]) for c in changes] == [(li, "left"), (li, "entered")]


def test_events_move_customers_into_event_segments_through_the_daily_counters(
    api: TestClient, engine: Engine, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    assert (
        api.put(
            "/api/v1/event-types/product_view",
            json={"display_name": "浏览商品", "counted_properties": ["category"]},
        ).status_code
        == 200
    )
    run_jobs()
    rule = {
        "type": "event",
        "event_type": "product_view",
        "op": "at_least",
        "count": 2,
        "within_days": 7,
        "where": [{"property": "category", "op": "eq", "value": "绿茶"}],
    }
    segment = _create(api, "近7天看绿茶2次", rule)
    run_jobs()
    assert _members(api, segment["id"]) == set()

    now = datetime.now(UTC)
    events = [
        {
            "id": f"v{i}",
            "type": "product_view",
            "occurred_at": (now - timedelta(hours=i)).isoformat(),
            "customer": {"mobile": "13800138002"},
            "properties": {"category": "绿茶"},
        }
        for i in range(2)
    ]
    assert api.post("/api/v1/events/batch", json={"events": events}).status_code == 200
    run_jobs()

    assert _members(api, segment["id"]) == {people["ids"]["li"]}
    with Session(engine) as session:
        dims = set(
            session.scalars(
                select(EventCounter.dimension).where(
                    EventCounter.customer_id == people["ids"]["li"]
                )
            )
        )
    assert dims == {"", "category=绿茶"}


def test_segments_of_segments_rebuild_in_order_and_cycles_are_refused(
    api: TestClient, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    base = _create(api, "绿茶客", _tagged(people["tag"]))
    derived = _create(
        api,
        "上海的绿茶客",
        {
            "all": [
                {"type": "segment", "op": "in", "segment_id": base["id"]},
                {"type": "profile", "field": "city", "op": "eq", "value": "上海"},
            ]
        },
    )
    run_jobs()
    assert _members(api, derived["id"]) == {people["ids"]["wang"]}

    cycle = api.patch(
        f"/api/v1/segments/{base['id']}",
        json={"rule": {"type": "segment", "op": "in", "segment_id": derived["id"]}},
    )
    assert cycle.status_code == 422
    refused = api.delete(f"/api/v1/segments/{base['id']}")
    assert refused.status_code == 409

    api.patch(
        f"/api/v1/segments/{base['id']}",
        json={"rule": {"type": "profile", "field": "city", "op": "eq", "value": "上海"}},
    )
    run_jobs()
    assert _members(api, derived["id"]) == {people["ids"]["wang"], people["ids"]["zhang"]}


def test_a_static_list_takes_ids_and_an_upload_reported_row_by_row(
    api: TestClient, people: dict[str, Any]
) -> None:
    listed = _create(api, "门店名单", None, kind="static")
    added = api.post(
        f"/api/v1/segments/{listed['id']}/members", json={"customer_ids": [people["ids"]["zhang"]]}
    )
    assert added.json() == {"added": 1, "removed": 0, "member_count": 1}

    content = "手机号\n13800138001\n13900000000\nnot-a-phone\n".encode()
    report = api.post(
        f"/api/v1/segments/{listed['id']}/members/upload",
        files={"file": ("list.csv", codecs.BOM_UTF8 + content, "text/csv")},
    ).json()
    assert (report["matched"], report["unknown"], report["invalid"], report["added"]) == (
        1,
        1,
        1,
        1,
    )
    assert [r["status"] for r in report["rows"]] == ["matched", "unknown", "invalid"]
    assert report["rows"][2]["row"] == 4
    assert _members(api, listed["id"]) == {people["ids"]["zhang"], people["ids"]["wang"]}

    removed = api.post(
        f"/api/v1/segments/{listed['id']}/members/remove",
        json={"customer_ids": [people["ids"]["zhang"]]},
    )
    assert removed.json()["member_count"] == 1


def test_a_snapshot_stays_frozen_while_the_segment_moves_on(
    api: TestClient, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    segment = _create(api, "绿茶客", _tagged(people["tag"]))
    run_jobs()
    snapshot = api.post(
        f"/api/v1/segments/{segment['id']}/snapshots", json={"purpose": "双11群发"}
    ).json()
    api.post(f"/api/v1/customers/{people['ids']['li']}/tags", json={"tag_ids": [people["tag"]]})
    run_jobs()

    assert snapshot["member_count"] == 1
    assert api.get(f"/api/v1/segments/{segment['id']}").json()["member_count"] == 2
    assert [
        s["member_count"] for s in api.get(f"/api/v1/segments/{segment['id']}/snapshots").json()
    ] == [1]


def test_export_streams_the_members_and_is_audited(
    api: TestClient, engine: Engine, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    segment = _create(api, "绿茶客", _tagged(people["tag"]))
    run_jobs()

    response = api.get(f"/api/v1/segments/{segment['id']}/export")

    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("ID,姓名")
    assert lines[1].startswith(f"{people['ids']['wang']},王芳")
    with Session(engine) as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "segment.export" in actions


def test_an_export_is_audited_while_others_write(
    api: TestClient,
    engine: Engine,
    people: dict[str, Any],
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another writer commits between the export's read of the segment and its audit
    entry: neither the export nor that write fails (see customers/test_export.py)."""
    segment = _create(api, "绿茶客", _tagged(people["tag"]))
    run_jobs()
    other_writer: list[threading.Thread] = []

    def look_up_then_another_writes(*args: Any) -> Any:
        row = service.segment_row(*args)
        other_writer.append(commit_beside(engine, update(Customer).values(remark="跟进")))
        return row

    monkeypatch.setattr(export, "segment_row", look_up_then_another_writes)
    response = api.get(f"/api/v1/segments/{segment['id']}/export")
    other_writer[0].join()
    assert response.status_code == 200, response.text
    with Session(engine) as session:
        assert list(session.scalars(select(AuditEntry.action))).count("segment.export") == 1
        assert set(session.scalars(select(Customer.remark))) == {"跟进"}


def test_an_order_moves_its_buyer_into_an_order_window_segment_and_events_leave_windows_alone(
    api: TestClient, engine: Engine, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    rule = {"type": "orders", "metric": "count", "op": "gte", "value": 1, "within_days": 30}
    segment = _create(api, "近30天下单", rule)
    run_jobs()
    assert _members(api, segment["id"]) == set()

    order = {
        "platform": "youzan",
        "platform_order_id": "YZ-30D-1",
        "status": "paid",
        "ordered_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
        "paid_fen": 12800,
        "receiver_mobile": "13800138002",
    }
    assert api.post("/api/v1/orders", json=order).status_code == 200
    run_jobs()
    li = people["ids"]["li"]
    assert _members(api, segment["id"]) == {li}

    def computed_at() -> datetime | None:
        with Session(engine) as session:
            return session.scalar(
                select(CustomerFeature.computed_at).where(CustomerFeature.customer_id == li)
            )

    windows_at = computed_at()
    assert windows_at is not None
    view = {
        "id": "after-order",
        "type": "product_view",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"mobile": "13800138002"},
        "properties": {},
    }
    assert api.post("/api/v1/events/batch", json={"events": [view]}).status_code == 200
    run_jobs()

    assert _members(api, segment["id"]) == {li}
    assert computed_at() == windows_at


def test_a_segment_deleted_before_its_build_ran_ends_the_build_without_retries(
    api: TestClient, engine: Engine, people: dict[str, Any], run_jobs: RunJobs
) -> None:
    gone = _create(api, "临时", {"type": "profile", "field": "city", "op": "eq", "value": "上海"})
    assert api.delete(f"/api/v1/segments/{gone['id']}").status_code == 204
    run_jobs()

    with Session(engine) as session:
        builds = session.execute(
            select(Job.status, Job.attempts, Job.result).where(Job.name == "segments.build")
        ).all()
    assert [tuple(b) for b in builds] == [("succeeded", 1, {"deleted": True})]


def test_a_build_holds_no_write_lock_while_it_evaluates_the_rules(
    api: TestClient,
    engine: Engine,
    people: dict[str, Any],
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_city = _create(
        api, "上海", {"type": "profile", "field": "city", "op": "eq", "value": "上海"}
    )
    untagged = {"not": _tagged(people["tag"])}
    reading = {"all": [{"type": "segment", "op": "in", "segment_id": in_city["id"]}, untagged]}
    derived = _create(api, "未打标", reading)
    run_jobs()
    assert _members(api, derived["id"]) == {people["ids"]["zhang"]}
    written_meanwhile: list[int] = []

    def compile_while_another_writes(*args: Any, **kwargs: Any) -> Any:
        with impatient_writer(engine) as other:
            updated = other.execute(update(Customer).values(remark="跟进"))
        written_meanwhile.append(updated.rowcount)
        return compiler.compile_rule(*args, **kwargs)

    monkeypatch.setattr(evaluation, "compile_rule", compile_while_another_writes)
    wider = {"type": "profile", "field": "city", "op": "in", "value": ["上海", "杭州"]}
    assert api.patch(f"/api/v1/segments/{in_city['id']}", json={"rule": wider}).status_code == 200
    run_jobs()

    assert written_meanwhile == [3, 3]  # the edited segment's build, then the one reading it
    # The segment reading the rebuilt one was rebuilt after it, from its new members.
    assert _members(api, in_city["id"]) == set(people["ids"].values())
    assert _members(api, derived["id"]) == {people["ids"]["zhang"], people["ids"]["li"]}
