"""Rules evaluated branch by branch on connections of their own name the same customers as
the one compiled query (the small world of test_compiler, committed so other connections
see it)."""

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, event, text, update
from sqlalchemy.orm import Session

from siyu.db.session import session_factory
from siyu.models import Customer
from siyu.segments import evaluation
from siyu.segments.compiler import compile_rule
from siyu.segments.context import CompileContext
from siyu.segments.evaluation import matching_ids
from siyu.segments.rules import parse_rule
from tests.segments.test_compiler import NOW, SHANGHAI, World, world

__all__ = ["world"]


def _rules(w: World) -> list[dict[str, Any]]:
    green, black, tools = w.tags["绿茶"], w.tags["红茶"], w.tags["茶具"]
    tags = {
        "all": [
            {"type": "tag", "op": "has_any", "tag_ids": [green, black]},
            {"type": "tag", "op": "has_none", "tag_ids": [tools]},
        ]
    }
    buyers = {"type": "orders", "metric": "count", "op": "gte", "value": 1}
    viewers = {"type": "event", "event_type": "product_view", "op": "at_least", "count": 2}
    shanghai = {"type": "profile", "field": "city", "op": "eq", "value": "上海"}
    return [
        # Q4's shape: groups, an excluded set and a broad condition beside them
        {
            "all": [
                tags,
                {"any": [buyers, viewers]},
                {"type": "subscription", "op": "not_opted_out", "channel": "any"},
                {"type": "follow", "op": "has"},
            ]
        },
        # groups only, with negatives beside them
        {"all": [{"any": [buyers, shanghai]}, {"any": [viewers, tags]}, {"not": shanghai}]},
        # positive leaves beside a group, a broad condition among them
        {
            "all": [
                shanghai,
                {"any": [buyers, viewers]},
                {"type": "identity", "op": "has_not", "kind": "mobile"},
            ]
        },
        # "any" at the top, with a negated group and an "all" inside
        {"any": [{"not": tags}, {"all": [buyers, {"any": [viewers, shanghai]}]}, viewers]},
        # a stored segment inside "all" keeps the whole group one query
        {
            "all": [
                {"type": "segment", "op": "in", "segment_id": w.segment_id},
                {"any": [buyers, shanghai]},
            ]
        },
        # nothing but broad conditions and groups
        {"all": [{"any": [buyers, viewers]}, {"type": "follow", "op": "has"}]},
        # filters on the two tables of one row per customer, each read apart (Q2's shape)
        {
            "all": [
                {
                    "type": "profile",
                    "field": "last_order_at",
                    "op": "within_last_days",
                    "value": 40,
                },
                {"type": "orders", "metric": "sum_paid", "op": "gte", "value": 100000}
                | {"within_days": 365},
            ]
        },
    ]


def _context(w: World, engine: Engine) -> CompileContext:
    return CompileContext(
        w.workspace_id,
        NOW,
        SHANGHAI,
        engine.dialect.name,
        {"product_view": frozenset({"category"})},
    )


@pytest.mark.parametrize("probe_max", [evaluation.PROBE_MAX, 0])
def test_branches_on_their_own_connections_agree_with_the_single_query(
    db: Session, world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch, probe_max: int
) -> None:
    monkeypatch.setattr(evaluation, "PROBE_MAX", probe_max)
    db.commit()
    ctx = _context(world, engine)
    connections: set[int] = set()

    def checked_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        connections.add(id(dbapi_connection))

    event.listen(engine, "checkout", checked_out)
    try:
        with session_factory(engine, write=False)() as reader:
            for rule in _rules(world):
                node = parse_rule(rule)
                expected = set(reader.scalars(compile_rule(node, ctx)))
                assert set(matching_ids(reader, node, ctx)) == expected, rule
                assert set(matching_ids(reader, node, ctx, parallel=False)) == expected, rule
    finally:
        event.remove(engine, "checkout", checked_out)
    # The reader's own connection and at least one more: branches ran beside it.
    assert len(connections) >= 2


@pytest.mark.postgres_only
def test_on_postgresql_every_branch_reads_the_same_moment(
    db: Session, world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.commit()
    ctx = _context(world, engine)
    hangzhou = {"type": "profile", "field": "city", "op": "eq", "value": "杭州"}
    tools = {"type": "tag", "op": "has_any", "tag_ids": [world.tags["茶具"]]}
    node = parse_rule({"any": [hangzhou, tools]})
    with session_factory(engine, write=False)() as reader:
        before = set(reader.scalars(compile_rule(node, ctx)))
    fetch = evaluation.fetch
    changed = threading.Event()
    first = threading.Lock()

    def change_after_the_first_branch_began(*args: Any) -> Any:
        if first.acquire(blocking=False):
            with engine.begin() as other:
                other.execute(update(Customer).values(city="上海"))
            changed.set()
        changed.wait(timeout=10)
        return fetch(*args)

    monkeypatch.setattr(evaluation, "fetch", change_after_the_first_branch_began)
    with session_factory(engine, write=False)() as reader:
        assert set(matching_ids(reader, node, ctx)) == before
        after = set(reader.scalars(compile_rule(node, ctx)))
    assert after != before


@pytest.mark.postgres_only
def test_on_postgresql_evaluations_hash_in_memory_without_compiling(
    db: Session, world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.commit()
    ctx = _context(world, engine)
    node = parse_rule(_rules(world)[0])
    seen: list[tuple[str, str]] = []
    read = evaluation.read

    def noting_settings(executor: Any, statement: Any) -> Any:
        seen.append((executor.scalar(text("SHOW work_mem")), executor.scalar(text("SHOW jit"))))
        return read(executor, statement)

    monkeypatch.setattr(evaluation, "read", noting_settings)
    with session_factory(engine, write=False)() as reader:
        evaluation.counted(reader, node, ctx)
    assert seen
    assert set(seen) == {("64MB", "off")}
