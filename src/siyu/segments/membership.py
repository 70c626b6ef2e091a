"""Stored membership: builds by set-based diff, refreshes of changed customers, size history.

A build or refresh writes only the difference between the rule's answer and the stored
members — a constant number of statements whatever the sizes — and records each entered
and left customer in segment_change. The answer is evaluated once, into a temporary table
of the connection, which the statements of the difference then read. A full build may
evaluate it beforehand in a read-only session (`answer`), so that on SQLite the
evaluation holds no write lock. A segment's first build records no changes: its initial
members did not "enter" anything a journey should react to.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Table,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import among, insert_tuples
from siyu.db.types import UTCDateTime
from siyu.models import Segment, SegmentChange, SegmentMember, SegmentSize
from siyu.segments.compiler import compile_rule
from siyu.segments.context import CompileContext
from siyu.segments.evaluation import matching_ids
from siyu.segments.nodes import RuleNode
from siyu.segments.rules import parse_rule, referenced_segments

# A rule's answer during one build (created per connection, emptied after each build).
ANSWER = Table("segment_answer", MetaData(), Column("id", BigInteger, primary_key=True))


@dataclass(frozen=True)
class Answer:
    """A full evaluation of a segment's rule, made before its membership is written."""

    ids: list[int]
    now: datetime
    seconds: float


def answer(session: Session, segment: Segment, ctx: CompileContext) -> Answer:
    """The customers the segment's rule matches now, its independent branches asked at
    once; `session` must only read."""
    assert segment.rule is not None
    started = time.perf_counter()
    ids = matching_ids(session, parse_rule(segment.rule), ctx)
    return Answer(ids, ctx.now, time.perf_counter() - started)


def build(
    session: Session,
    segment: Segment,
    ctx: CompileContext,
    *,
    only: Sequence[int] | None = None,
    answered: Answer | None = None,
) -> tuple[int, int]:
    """Bring stored membership in line with the rule (for all customers, or `only` these),
    or with the rule's full `answered`; returns (entered, left)."""
    assert segment.rule is not None
    started = time.perf_counter() - (answered.seconds if answered else 0.0)
    session.execute(
        text("CREATE TEMPORARY TABLE IF NOT EXISTS segment_answer (id BIGINT PRIMARY KEY)")
    )
    if answered is None:
        rule = compile_rule(parse_rule(segment.rule), ctx, only)
        session.execute(insert(ANSWER).from_select(["id"], rule))
    elif answered.ids:
        insert_tuples(session, ANSWER, ["id"], [(i,) for i in answered.ids])
    members = select(SegmentMember.customer_id).where(
        SegmentMember.workspace_id == segment.workspace_id,
        SegmentMember.segment_id == segment.id,
    )
    if only is not None:
        members = members.where(among(session, SegmentMember.customer_id, only))
    is_member = exists().where(
        SegmentMember.segment_id == segment.id,
        SegmentMember.customer_id == ANSWER.c.id,
    )
    entering = select(ANSWER.c.id).where(~is_member)
    leaving = members.where(SegmentMember.customer_id.not_in(select(ANSWER.c.id)))
    now = ctx.now
    record = segment.built_at is not None
    if record:
        _record(session, segment, leaving, "left", now)
        _record(session, segment, entering, "entered", now)
    left = session.execute(
        delete(SegmentMember)
        .where(
            SegmentMember.segment_id == segment.id,
            SegmentMember.customer_id.in_(leaving),
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    entered = session.execute(
        insert(SegmentMember).from_select(
            ["workspace_id", "segment_id", "customer_id", "entered_at"],
            select(
                literal(segment.workspace_id),
                literal(segment.id),
                entering.selected_columns[0],
                literal(now, UTCDateTime()),
            ).where(~is_member),
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(delete(ANSWER))
    _finish(session, segment, ctx, started, full=only is None)
    return int(entered), int(left)


def _record(session: Session, segment: Segment, ids: Any, change: str, now: datetime) -> None:
    picked = ids.subquery()
    session.execute(
        insert(SegmentChange).from_select(
            ["workspace_id", "segment_id", "customer_id", "change", "changed_at"],
            select(
                literal(segment.workspace_id),
                literal(segment.id),
                picked.c[0],
                literal(change),
                literal(now, UTCDateTime()),
            ),
        )
    )


def _finish(
    session: Session, segment: Segment, ctx: CompileContext, started: float, *, full: bool
) -> None:
    segment.member_count = (
        session.scalar(
            select(func.count()).where(
                SegmentMember.workspace_id == segment.workspace_id,
                SegmentMember.segment_id == segment.id,
            )
        )
        or 0
    )
    if full or segment.built_at is None:
        segment.build_ms = round((time.perf_counter() - started) * 1000)
    segment.built_at = ctx.now
    segment.status = "ready"
    segment.last_error = None
    record_size(session, segment, ctx)


def record_size(session: Session, segment: Segment, ctx: CompileContext) -> None:
    """Today's size point (workspace time zone); the last write of the day wins."""
    table: Table = SegmentSize.__table__  # type: ignore[assignment]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(
        workspace_id=segment.workspace_id,
        segment_id=segment.id,
        day=ctx.today,
        member_count=segment.member_count,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["segment_id", "day"],
            set_={"member_count": stmt.excluded.member_count},
        )
    )


def dependency_order(segments: Sequence[Segment]) -> list[Segment]:
    """Dynamic segments ordered so each comes after the segments its rule reads."""
    by_id = {s.id: s for s in segments}
    ordered: list[Segment] = []
    state: dict[int, str] = {}

    def visit(segment: Segment) -> None:
        if state.get(segment.id) == "done":
            return
        state[segment.id] = "visiting"
        for dependency in segment.depends_on or []:
            if dependency in by_id and state.get(dependency) != "visiting":
                visit(by_id[dependency])
        state[segment.id] = "done"
        ordered.append(segment)

    for segment in segments:
        visit(segment)
    return ordered


def dependents_of(segment_id: int, segments: Sequence[Segment]) -> list[Segment]:
    """The segments that read `segment_id`, directly or through others, in build order."""
    reached = {segment_id}
    changed = True
    while changed:
        changed = False
        for s in segments:
            if s.id not in reached and reached.intersection(s.depends_on or []):
                reached.add(s.id)
                changed = True
    return [s for s in dependency_order(segments) if s.id in reached and s.id != segment_id]


def would_cycle(segment_id: int | None, node: RuleNode, segments: Sequence[Segment]) -> bool:
    """Whether a rule reading these segments would make `segment_id` depend on itself."""
    if segment_id is None:
        return False
    graph = {s.id: set(s.depends_on or []) for s in segments}
    graph[segment_id] = referenced_segments(node)
    seen: set[int] = set()
    stack = list(graph[segment_id])
    while stack:
        current = stack.pop()
        if current == segment_id:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, ()))
    return False
