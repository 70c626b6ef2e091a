"""The rule compiler against a small hand-built workspace with known answers, on both databases."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from siyu.models import (
    Customer,
    CustomerFeature,
    CustomerGroup,
    CustomerGroupMember,
    CustomerTag,
    Department,
    Event,
    EventCounter,
    FollowRelation,
    Identity,
    OptOut,
    Order,
    SegmentMember,
    Staff,
    Tag,
    TagGroup,
)
from siyu.models import Segment as SegmentRow
from siyu.segments.compiler import compile_rule, count_query
from siyu.segments.context import CompileContext
from siyu.segments.evaluation import matching_ids
from siyu.segments.nodes import ProfileCondition
from siyu.segments.rules import parse_rule, with_custom_kind
from siyu.tags import service as tags_service
from tests.conftest import WorkspaceFixture

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-03-01 01:30 in Shanghai: "today" there is March 1st while UTC is still February 28th.
NOW = datetime(2026, 2, 28, 17, 30, tzinfo=UTC)


@dataclass
class World:
    workspace_id: int
    ids: dict[str, int]
    tags: dict[str, int]
    staff: dict[str, int]
    departments: dict[str, int]
    segment_id: int
    group_id: int


def local(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(UTC)


TODAY = date(2026, 3, 1)


@pytest.fixture
def world(db: Session, workspace: WorkspaceFixture) -> World:
    ws = workspace.id
    people: dict[str, dict[str, Any]] = {
        "wang": {
            "name": "王芳",
            "city": "上海",
            "birthday": date(1990, 3, 3),
            "lifecycle_stage": "loyal",
            "custom_fields": {"level": "gold", "points": 1200, "likes": ["绿茶", "白茶"]},
        },
        "li": {
            "name": "李娜",
            "city": "杭州",
            "birthday": date(1992, 2, 29),
            "lifecycle_stage": "active",
            "custom_fields": {"level": "silver", "points": 300},
        },
        "zhang": {
            "name": "张伟",
            "city": "上海",
            "birthday": date(1985, 12, 31),
            "lifecycle_stage": "new",
            "mobile": "+8613800138000",
            "custom_fields": {},
        },
        "zhao": {"name": "赵敏", "city": None, "lifecycle_stage": "churned", "custom_fields": {}},
        "merged": {"name": "王芳", "city": "上海", "lifecycle_stage": "loyal", "custom_fields": {}},
    }
    ids: dict[str, int] = {}
    for key, fields in people.items():
        customer = Customer(workspace_id=ws, **fields)
        db.add(customer)
        db.flush()
        ids[key] = customer.id
    db.get(Customer, ids["merged"]).merged_into_id = ids["wang"]  # type: ignore[union-attr]
    db.get(Customer, ids["wang"]).last_order_at = local(TODAY - timedelta(days=29))  # type: ignore[union-attr]
    db.get(Customer, ids["li"]).last_order_at = local(TODAY - timedelta(days=30))  # type: ignore[union-attr]

    group = TagGroup(workspace_id=ws, name="兴趣")
    db.add(group)
    db.flush()
    tags = {}
    for name in ("绿茶", "红茶", "茶具"):
        tag = Tag(workspace_id=ws, group_id=group.id, name=name)
        db.add(tag)
        db.flush()
        tags[name] = tag.id
    for who, tag_names in {
        "wang": ("绿茶", "红茶"),
        "li": ("绿茶",),
        "zhang": ("茶具",),
        "merged": ("红茶",),
    }.items():
        for name in tag_names:
            db.add(
                CustomerTag(
                    workspace_id=ws,
                    customer_id=ids[who],
                    tag_id=tags[name],
                    source="manual" if who != "li" else "wecom",
                )
            )
    db.flush()
    tags_service.rebuild_bits(db, ws)  # the assignments above bypassed the service

    region = Department(workspace_id=ws, name="华东")
    db.add(region)
    db.flush()
    store = Department(workspace_id=ws, name="上海店", parent_id=region.id)
    db.add(store)
    db.flush()
    staff = {}
    for name, department in (("小陈", store.id), ("小林", None)):
        member = Staff(workspace_id=ws, name=name, department_id=department)
        db.add(member)
        db.flush()
        staff[name] = member.id
    db.add_all(
        [
            FollowRelation(
                workspace_id=ws,
                customer_id=ids["wang"],
                staff_id=staff["小陈"],
                added_at=local(TODAY - timedelta(days=2)),
                state="live-618",
            ),
            FollowRelation(
                workspace_id=ws,
                customer_id=ids["li"],
                staff_id=staff["小林"],
                added_at=local(TODAY - timedelta(days=40)),
                status="deleted_by_customer",
            ),
            FollowRelation(
                workspace_id=ws,
                customer_id=ids["zhang"],
                staff_id=staff["小林"],
                added_at=local(TODAY - timedelta(days=10)),
            ),
        ]
    )
    db.add(
        Identity(workspace_id=ws, customer_id=ids["zhang"], kind="mobile", value="+8613800138000")
    )
    db.add(
        Identity(workspace_id=ws, customer_id=ids["wang"], kind="taobao_buyer_id", value="tb_wang")
    )

    def order(
        who: str, n: str, status: str, paid: int, days_ago: int, platform: str = "tmall"
    ) -> None:
        refunded = paid if status == "refunded" else 0
        db.add(
            Order(
                workspace_id=ws,
                customer_id=ids[who],
                platform=platform,
                platform_order_id=n,
                status=status,
                paid_fen=paid,
                total_fen=paid,
                refunded_fen=refunded,
                ordered_at=local(TODAY - timedelta(days=days_ago)),
            )
        )

    order("wang", "1", "completed", 50000, 3)
    order("wang", "2", "completed", 60000, 100)
    order("wang", "3", "paid", 10000, 400)
    order("wang", "4", "cancelled", 99900, 1)
    order("li", "5", "completed", 20000, 20, "jd")
    order("li", "6", "refunded", 30000, 25, "jd")
    db.add_all(
        [
            CustomerFeature(
                workspace_id=ws,
                customer_id=ids["wang"],
                orders_30d=1,
                orders_90d=1,
                orders_365d=2,
                paid_30d_fen=50000,
                paid_90d_fen=50000,
                paid_365d_fen=110000,
                rfm_r=5,
                rfm_f=4,
                rfm_m=5,
                rfm_class="important_value",
                p_alive=0.9,
            ),
            CustomerFeature(
                workspace_id=ws,
                customer_id=ids["li"],
                orders_30d=1,
                orders_90d=1,
                orders_365d=1,
                paid_30d_fen=20000,
                paid_90d_fen=20000,
                paid_365d_fen=20000,
                rfm_r=4,
                rfm_f=1,
                rfm_m=2,
                rfm_class="general_develop",
                p_alive=0.4,
            ),
        ]
    )

    def view(who: str, category: str, days_ago: int, hour: int = 12) -> None:
        at = local(TODAY - timedelta(days=days_ago), hour)
        db.add(
            Event(
                workspace_id=ws,
                event_key=f"{who}-{category}-{days_ago}-{hour}",
                customer_id=ids[who],
                event_type="product_view",
                occurred_at=at,
                properties={"category": category, "price": 99},
            )
        )

    for days_ago, hour in ((0, 1), (1, 12), (29, 9)):
        view("wang", "绿茶", days_ago, hour)
    view("wang", "绿茶", 30)  # just outside a 30-day window
    view("li", "绿茶", 2)
    view("li", "绿茶", 3)
    view("li", "红茶", 4)
    for who, dim, days_ago, count in (
        ("wang", "category=绿茶", 0, 1),
        ("wang", "category=绿茶", 1, 1),
        ("wang", "category=绿茶", 29, 1),
        ("wang", "category=绿茶", 30, 1),
        ("li", "category=绿茶", 2, 1),
        ("li", "category=绿茶", 3, 1),
        ("li", "category=红茶", 4, 1),
    ):
        for dimension in (dim, ""):
            db.merge(
                EventCounter(
                    workspace_id=ws,
                    event_type="product_view",
                    dimension=dimension,
                    day=TODAY - timedelta(days=days_ago),
                    customer_id=ids[who],
                    count=count,
                )
            )
    db.flush()
    # merge() above adds; "" rows of the same day need summing
    db.add(OptOut(workspace_id=ws, customer_id=ids["zhang"], channel="sms", source="test"))
    db.add(OptOut(workspace_id=ws, customer_id=ids["zhao"], channel="all", source="test"))
    chat = CustomerGroup(workspace_id=ws, chat_id="wr1", name="绿茶爱好者群")
    db.add(chat)
    db.flush()
    db.add(
        CustomerGroupMember(
            workspace_id=ws,
            group_id=chat.id,
            member_type="external",
            member_id="wm1",
            customer_id=ids["li"],
        )
    )
    segment = SegmentRow(workspace_id=ws, name="老客", kind="static")
    db.add(segment)
    db.flush()
    db.add(SegmentMember(workspace_id=ws, segment_id=segment.id, customer_id=ids["zhang"]))
    db.flush()
    return World(ws, ids, tags, staff, {"华东": region.id, "上海店": store.id}, segment.id, chat.id)


def matching(db: Session, world: World, rule: dict[str, Any]) -> set[str]:
    ctx = CompileContext(
        world.workspace_id,
        NOW,
        SHANGHAI,
        db.get_bind().dialect.name,
        {"product_view": frozenset({"category"})},
    )
    node = parse_rule(rule)
    found = set(db.scalars(compile_rule(node, ctx)))
    assert db.scalar(count_query(node, ctx)) == len(found)
    # Asked branch by branch (tags from their kept bits) and combined in memory, the rule
    # names the same customers.
    assert set(matching_ids(db, node, ctx, parallel=False)) == found
    # Evaluated for a few customers, the rule gives the same answer for them.
    for few in ([world.ids["wang"], world.ids["zhang"]], [world.ids["li"], world.ids["merged"]]):
        assert set(db.scalars(compile_rule(node, ctx, few))) == found & set(few)
    names = {v: k for k, v in world.ids.items()}
    return {names[i] for i in found}


def test_profile_text_and_number_conditions(db: Session, world: World) -> None:
    assert matching(
        db, world, {"type": "profile", "field": "city", "op": "eq", "value": "上海"}
    ) == {"wang", "zhang"}
    assert matching(
        db, world, {"type": "profile", "field": "city", "op": "ne", "value": "上海"}
    ) == {"li", "zhao"}
    assert matching(db, world, {"type": "profile", "field": "city", "op": "is_not_set"}) == {"zhao"}
    assert matching(
        db, world, {"type": "profile", "field": "name", "op": "starts_with", "value": "王"}
    ) == {"wang"}
    assert (
        matching(db, world, {"type": "profile", "field": "name", "op": "contains", "value": "%"})
        == set()
    )
    assert matching(
        db, world, {"type": "profile", "field": "city", "op": "in", "value": ["杭州", "北京"]}
    ) == {"li"}


def test_relative_dates_are_calendar_days_in_the_workspace_time_zone(
    db: Session, world: World
) -> None:
    within_30 = {"type": "profile", "field": "last_order_at", "op": "within_last_days", "value": 30}
    assert matching(db, world, within_30) == {"wang"}
    older = {"type": "profile", "field": "last_order_at", "op": "more_than_days_ago", "value": 29}
    assert matching(db, world, older) == {"li"}


def test_birthday_within_days_ignores_the_year_and_counts_feb_29_on_feb_28(
    db: Session, world: World
) -> None:
    soon = {"type": "profile", "field": "birthday", "op": "birthday_within_days", "value": 3}
    assert matching(db, world, soon) == {"wang"}


def test_tags_any_all_none_and_by_source(db: Session, world: World) -> None:
    green, black = world.tags["绿茶"], world.tags["红茶"]
    assert matching(db, world, {"type": "tag", "op": "has_any", "tag_ids": [green, black]}) == {
        "wang",
        "li",
    }
    assert matching(db, world, {"type": "tag", "op": "has_all", "tag_ids": [green, black]}) == {
        "wang"
    }
    assert matching(db, world, {"type": "tag", "op": "has_none", "tag_ids": [green]}) == {
        "zhang",
        "zhao",
    }
    assert matching(
        db, world, {"type": "tag", "op": "has_any", "tag_ids": [green], "source": "wecom"}
    ) == {"li"}


def test_groups_nest_and_negate(db: Session, world: World) -> None:
    green, tools = world.tags["绿茶"], world.tags["茶具"]
    rule = {
        "any": [
            {
                "all": [
                    {"type": "tag", "op": "has_any", "tag_ids": [green]},
                    {"not": {"type": "profile", "field": "city", "op": "eq", "value": "上海"}},
                ]
            },
            {"type": "tag", "op": "has_any", "tag_ids": [tools]},
        ]
    }
    assert matching(db, world, rule) == {"li", "zhang"}
    assert matching(db, world, {"not": rule}) == {"wang", "zhao"}
    assert matching(
        db, world, {"all": [{"not": {"type": "stage", "op": "in", "stages": ["new"]}}]}
    ) == {"wang", "li", "zhao"}


def test_all_distributes_over_any(db: Session, world: World) -> None:
    green, black, tools = world.tags["绿茶"], world.tags["红茶"], world.tags["茶具"]
    driver = {"type": "tag", "op": "has_any", "tag_ids": [green, tools]}
    branches: list[dict[str, Any]] = [
        {"type": "tag", "op": "has_all", "tag_ids": [green, black]},
        {"not": {"type": "profile", "field": "city", "op": "eq", "value": "上海"}},
        {"type": "orders", "metric": "count", "op": "lte", "value": 0},
        {"type": "event", "event_type": "product_view", "op": "at_least", "count": 2},
        {
            "all": [
                {"type": "follow", "op": "has"},
                {"not": {"type": "stage", "op": "in", "stages": ["new"]}},
            ]
        },
        {"type": "subscription", "op": "opted_out", "channel": "any"},
    ]
    for one, other in zip(branches, branches[1:] + branches[:1], strict=True):
        grouped = {"all": [driver, {"any": [one, other]}]}
        spread = {"any": [{"all": [driver, one]}, {"all": [driver, other]}]}
        assert matching(db, world, grouped) == matching(db, world, spread), (one, other)
    rule = {"all": [driver, {"any": [branches[0], branches[1]]}]}
    assert matching(db, world, rule) == {"wang", "li"}


def test_identity_follow_and_department_subtree(db: Session, world: World) -> None:
    assert matching(db, world, {"type": "identity", "op": "has", "kind": "mobile"}) == {"zhang"}
    assert matching(db, world, {"type": "identity", "op": "has_not", "kind": "mobile"}) == {
        "wang",
        "li",
        "zhao",
    }
    assert matching(db, world, {"type": "follow", "op": "has"}) == {"wang", "zhang"}
    assert matching(db, world, {"type": "follow", "op": "has", "status": "lost"}) == {"li"}
    assert matching(
        db, world, {"type": "follow", "op": "has", "department_ids": [world.departments["华东"]]}
    ) == {"wang"}
    assert matching(db, world, {"type": "follow", "op": "has", "states": ["live-618"]}) == {"wang"}
    assert matching(db, world, {"type": "follow", "op": "has", "added_within_days": 3}) == {"wang"}
    assert matching(db, world, {"type": "follow", "op": "has_not"}) == {"li", "zhao"}


def test_orders_from_kept_stats_and_from_the_orders_themselves(db: Session, world: World) -> None:
    assert matching(
        db,
        world,
        {"type": "orders", "metric": "count", "op": "gte", "value": 2, "within_days": 365},
    ) == {"wang"}
    assert matching(
        db,
        world,
        {"type": "orders", "metric": "sum_paid", "op": "gte", "value": 100000, "within_days": 365},
    ) == {"wang"}
    # Nobody has orders in a 7-day window but wang; "at most 0" includes customers without any.
    assert matching(
        db, world, {"type": "orders", "metric": "count", "op": "lte", "value": 0, "within_days": 7}
    ) == {"li", "zhang", "zhao"}
    assert matching(
        db,
        world,
        {
            "type": "orders",
            "metric": "count",
            "op": "eq",
            "value": 1,
            "within_days": 30,
            "platforms": ["jd"],
        },
    ) == {"li"}
    # Refunded and cancelled orders count towards neither orders nor money.
    assert matching(
        db,
        world,
        {
            "type": "orders",
            "metric": "sum_paid",
            "op": "between",
            "value": [1, 25000],
            "within_days": 60,
            "platforms": ["jd"],
        },
    ) == {"li"}


def test_events_from_counters_and_from_raw_events_agree(db: Session, world: World) -> None:
    counted = {
        "type": "event",
        "event_type": "product_view",
        "op": "at_least",
        "count": 3,
        "within_days": 30,
        "where": [{"property": "category", "op": "eq", "value": "绿茶"}],
    }
    raw = {**counted, "where": [{"property": "category", "op": "in", "value": ["绿茶"]}]}
    assert matching(db, world, counted) == matching(db, world, raw) == {"wang"}
    did_not = {"type": "event", "event_type": "product_view", "op": "did_not", "within_days": 3}
    assert matching(db, world, did_not) == {"zhang", "zhao"}
    at_most = {
        "type": "event",
        "event_type": "product_view",
        "op": "at_most",
        "count": 2,
        "within_days": 30,
    }
    assert matching(db, world, at_most) == {"zhang", "zhao"}
    priced = {
        "type": "event",
        "event_type": "product_view",
        "op": "did",
        "where": [{"property": "price", "op": "gte", "value": 99}],
    }
    assert matching(db, world, priced) == {"wang", "li"}


def test_rfm_clv_stage_group_segment_and_subscription(db: Session, world: World) -> None:
    assert matching(
        db, world, {"type": "rfm", "op": "class_in", "classes": ["important_value"]}
    ) == {"wang"}
    assert matching(db, world, {"type": "rfm", "op": "gte", "score": "r", "value": 4}) == {
        "wang",
        "li",
    }
    assert matching(
        db, world, {"type": "clv", "metric": "p_alive", "op": "between", "value": [0.3, 0.5]}
    ) == {"li"}
    assert matching(db, world, {"type": "stage", "op": "not_in", "stages": ["loyal", "new"]}) == {
        "li",
        "zhao",
    }
    assert matching(db, world, {"type": "group", "op": "in_any"}) == {"li"}
    assert matching(db, world, {"type": "segment", "op": "in", "segment_id": world.segment_id}) == {
        "zhang"
    }
    assert matching(db, world, {"type": "subscription", "op": "opted_out", "channel": "sms"}) == {
        "zhang",
        "zhao",
    }
    assert matching(
        db, world, {"type": "subscription", "op": "not_opted_out", "channel": "email"}
    ) == {"wang", "li", "zhang"}


def test_custom_fields_by_their_type(db: Session, world: World) -> None:
    def custom(rule: dict[str, Any], field_type: str) -> set[str]:
        node = parse_rule(rule)
        assert isinstance(node, ProfileCondition)
        resolved = with_custom_kind(node, field_type, "rule")
        ctx = CompileContext(world.workspace_id, NOW, SHANGHAI, db.get_bind().dialect.name)
        names = {v: k for k, v in world.ids.items()}
        return {names[i] for i in db.scalars(compile_rule(resolved, ctx))}

    assert custom(
        {"type": "profile", "field": "custom.level", "op": "eq", "value": "gold"}, "single_choice"
    ) == {"wang"}
    assert custom(
        {"type": "profile", "field": "custom.points", "op": "gte", "value": 500}, "number"
    ) == {"wang"}
    assert custom(
        {"type": "profile", "field": "custom.likes", "op": "contains", "value": "白茶"},
        "multi_choice",
    ) == {"wang"}
    assert custom({"type": "profile", "field": "custom.level", "op": "is_not_set"}, "text") == {
        "zhang",
        "zhao",
    }


def test_restricting_evaluates_only_the_given_customers(db: Session, world: World) -> None:
    ctx = CompileContext(world.workspace_id, NOW, SHANGHAI, db.get_bind().dialect.name)
    node = parse_rule({"type": "profile", "field": "city", "op": "eq", "value": "上海"})
    only = [world.ids["zhang"], world.ids["li"], world.ids["merged"]]
    assert set(db.scalars(compile_rule(node, ctx, only))) == {world.ids["zhang"]}
