"""Segments: dynamic rule trees with stored membership, static lists, previews and snapshots."""

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, insert, literal, select
from sqlalchemy.orm import Session

from siyu.analytics import features
from siyu.customers import changes as changed_customers
from siyu.customers import service as customers_service
from siyu.customers.schemas import CustomerListItem
from siyu.db.maintenance import StatisticsRefresher
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import PageOut, check_limit, decode_cursor, encode_cursor
from siyu.kit.time import utcnow
from siyu.models import (
    CustomerGroup,
    Department,
    LiveCode,
    Segment,
    SegmentChange,
    SegmentMember,
    SegmentSnapshot,
    SegmentSnapshotMember,
    Staff,
    Tag,
)
from siyu.segments import evaluation, membership
from siyu.segments.compiler import compile_rule
from siyu.segments.context import CompileContext
from siyu.segments.nodes import (
    AllOf,
    AnyOf,
    FollowCondition,
    GroupCondition,
    Not,
    ProfileCondition,
    RuleNode,
    SegmentCondition,
    TagCondition,
)
from siyu.segments.repository import SegmentRepository
from siyu.segments.rules import parse_rule, referenced_segments, with_custom_kind
from siyu.segments.schemas import (
    ChangeOut,
    PreviewOut,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
    SizePoint,
    SnapshotOut,
)
from siyu.worker.queue import enqueue
from siyu.worker.schedules import ensure_schedule
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

BUILD_JOB = "segments.build"
# Time-relative rules ("within 30 days") drift without any write: rebuilt after midnight.
REBUILD_JOB = "segments.rebuild_all"
REBUILD_CRON = "10 0 * * *"
TREND_DAYS = 30
SAMPLE_MAX = 100


def context(session: Session, workspace_id: int, now: datetime | None = None) -> CompileContext:
    workspace = workspace_service.get_workspace(session, workspace_id)
    return CompileContext(
        workspace_id=workspace_id,
        now=now or utcnow(),
        timezone=ZoneInfo(workspace.timezone),
        dialect=session.get_bind().dialect.name,
        counted=SegmentRepository(session, workspace_id).counted_properties(),
    )


# -- rules -------------------------------------------------------------------------------------


def resolve_rule(
    session: Session, workspace_id: int, data: object, *, field: str = "rule"
) -> RuleNode:
    """Parse a rule and check it against the workspace: every id it names exists here, and
    custom-field conditions fit their field's type."""
    node = parse_rule(data, field=field)
    return _Resolver(SegmentRepository(session, workspace_id)).node(node, field)


class _Resolver:
    def __init__(self, repo: SegmentRepository) -> None:
        self.repo = repo
        self.custom_types: dict[str, str] | None = None

    def node(self, node: RuleNode, path: str) -> RuleNode:
        if isinstance(node, AllOf | AnyOf):
            key = "all" if isinstance(node, AllOf) else "any"
            children = tuple(
                self.node(child, f"{path}.{key}[{i}]") for i, child in enumerate(node.children)
            )
            return AllOf(children) if isinstance(node, AllOf) else AnyOf(children)
        if isinstance(node, Not):
            return Not(self.node(node.child, f"{path}.not"))
        match node:
            case ProfileCondition(kind="custom"):
                if self.custom_types is None:
                    self.custom_types = self.repo.custom_field_types()
                key = node.field.removeprefix("custom.")
                if key not in self.custom_types:
                    raise ValidationFailed(f"{path}.field", f"no custom field named {key!r}")
                return with_custom_kind(node, self.custom_types[key], path)
            case TagCondition():
                self._exist(Tag, node.tag_ids, f"{path}.tag_ids", "tag")
            case FollowCondition():
                self._exist(Staff, node.staff_ids, f"{path}.staff_ids", "staff member")
                self._exist(Department, node.department_ids, f"{path}.department_ids", "department")
                self._exist(LiveCode, node.live_code_ids, f"{path}.live_code_ids", "live code")
            case GroupCondition():
                self._exist(CustomerGroup, node.group_ids, f"{path}.group_ids", "customer group")
            case SegmentCondition():
                self._exist(Segment, (node.segment_id,), f"{path}.segment_id", "segment")
            case _:
                pass
        return node

    def _exist(self, model: type, ids: Sequence[int], path: str, what: str) -> None:
        missing = sorted(set(ids) - self.repo.existing(model, ids)) if ids else []
        if missing:
            raise ValidationFailed(path, f"no {what} with id {missing[0]} in this workspace")


# -- CRUD --------------------------------------------------------------------------------------


def segment_row(session: Session, workspace_id: int, segment_id: int) -> Segment:
    segment = SegmentRepository(session, workspace_id).segment(segment_id)
    if segment is None:
        raise NotFound("segment")
    return segment


def _out(segment: Segment, trend: list[SizePoint] | None = None) -> SegmentOut:
    out = SegmentOut.model_validate(segment)
    return out.model_copy(update={"size_trend": trend or []})


def _set_rule(session: Session, segment: Segment, data: dict[str, object]) -> None:
    node = resolve_rule(session, segment.workspace_id, data)
    others = SegmentRepository(session, segment.workspace_id).segments()
    if membership.would_cycle(segment.id, node, others) or segment.id in referenced_segments(node):
        raise ValidationFailed("rule", "a segment cannot depend on itself, directly or not")
    segment.rule = data
    segment.depends_on = sorted(referenced_segments(node))


def _watch(session: Session, workspace_id: int, watching: bool) -> None:
    """Tell writers whether to mark changed customers (only dynamic segments need them)."""
    workspace = workspace_service.get_workspace(session, workspace_id)
    if bool(workspace.settings.get(changed_customers.WATCHING)) != watching:
        workspace.settings = {**workspace.settings, changed_customers.WATCHING: watching}


def _queue_build(session: Session, segment: Segment) -> None:
    _watch(session, segment.workspace_id, watching=True)
    segment.status = "pending"
    enqueue(session, BUILD_JOB, {"segment_id": segment.id}, workspace_id=segment.workspace_id)
    ensure_schedule(
        session,
        key=f"{REBUILD_JOB}:{segment.workspace_id}",
        cron=REBUILD_CRON,
        job_name=REBUILD_JOB,
        workspace_id=segment.workspace_id,
    )


def create_segment(session: Session, principal: Principal, data: SegmentIn) -> SegmentOut:
    repo = SegmentRepository(session, principal.workspace_id)
    if repo.by_name(data.name.strip()) is not None:
        raise Conflict(f"a segment named {data.name.strip()!r} exists", {"field": "name"})
    if data.kind == "dynamic" and data.rule is None:
        raise ValidationFailed("rule", "a dynamic segment needs a rule")
    if data.kind == "static" and data.rule is not None:
        raise ValidationFailed("rule", "a static list has members, not a rule")
    segment = Segment(
        workspace_id=principal.workspace_id,
        name=data.name.strip(),
        description=data.description,
        kind=data.kind,
        depends_on=[],
        created_by=principal.actor,
        status="ready" if data.kind == "static" else "pending",
    )
    session.add(segment)
    session.flush()
    if data.rule is not None:
        _set_rule(session, segment, data.rule)
        _queue_build(session, segment)
    else:
        segment.built_at = utcnow()
    session.flush()
    return _out(segment)


def update_segment(
    session: Session, principal: Principal, segment_id: int, data: SegmentUpdate
) -> SegmentOut:
    segment = segment_row(session, principal.workspace_id, segment_id)
    if data.name is not None and data.name.strip() != segment.name:
        other = SegmentRepository(session, principal.workspace_id).by_name(data.name.strip())
        if other is not None:
            raise Conflict(f"a segment named {data.name.strip()!r} exists", {"field": "name"})
        segment.name = data.name.strip()
    if "description" in data.model_fields_set:
        segment.description = data.description
    if data.rule is not None:
        if segment.kind == "static":
            raise ValidationFailed("rule", "a static list has members, not a rule")
        _set_rule(session, segment, data.rule)
        _queue_build(session, segment)
    session.flush()
    return _out(segment)


def delete_segment(session: Session, principal: Principal, segment_id: int) -> None:
    segment = segment_row(session, principal.workspace_id, segment_id)
    readers = [
        s.name
        for s in SegmentRepository(session, principal.workspace_id).segments()
        if segment.id in (s.depends_on or [])
    ]
    if readers:
        raise Conflict(
            f"segments {', '.join(readers)} read this segment; change them first",
            {"segments": readers},
        )
    workspace_service.audit(
        session,
        principal,
        "segment.delete",
        target_type="segment",
        target_id=segment.id,
        details={"name": segment.name, "member_count": segment.member_count},
    )
    session.delete(segment)
    session.flush()
    if not SegmentRepository(session, principal.workspace_id).segments(kind="dynamic"):
        _watch(session, principal.workspace_id, watching=False)


def get_segment(session: Session, principal: Principal, segment_id: int) -> SegmentOut:
    segment = segment_row(session, principal.workspace_id, segment_id)
    return _with_trends(session, principal.workspace_id, [segment])[0]


def list_segments(session: Session, principal: Principal) -> list[SegmentOut]:
    segments = SegmentRepository(session, principal.workspace_id).segments()
    return _with_trends(session, principal.workspace_id, segments)


def _with_trends(session: Session, workspace_id: int, segments: list[Segment]) -> list[SegmentOut]:
    since = utcnow().date() - timedelta(days=TREND_DAYS)
    sizes = SegmentRepository(session, workspace_id).sizes([s.id for s in segments], since)
    return [
        _out(s, [SizePoint(day=d, member_count=n) for d, n in sizes.get(s.id, [])])
        for s in segments
    ]


# -- answers -----------------------------------------------------------------------------------


def preview(
    session: Session, principal: Principal, rule: dict[str, object], sample_size: int = 0
) -> PreviewOut:
    """How many customers a rule holds for right now, and the first few (nothing is stored)."""
    node = resolve_rule(session, principal.workspace_id, rule)
    ctx = context(session, principal.workspace_id)
    started = time.perf_counter()
    count, found = evaluation.counted(session, node, ctx)
    took = round((time.perf_counter() - started) * 1000)
    listed: list[CustomerListItem] = []
    if sample_size and count:
        if found is not None:
            ids = found.ids()[:sample_size].tolist()
        else:
            matching = compile_rule(node, ctx)
            first = matching.order_by(matching.selected_columns[0]).limit(sample_size)
            ids = list(session.scalars(first))
        listed = customers_service.listed_customers(session, principal, ids)
    return PreviewOut(count=count, took_ms=took, sample=listed)


def sample(
    session: Session, principal: Principal, segment_id: int, limit: int
) -> list[CustomerListItem]:
    """The first members (by id) of a segment, as the customer list shows them."""
    segment = segment_row(session, principal.workspace_id, segment_id)
    limit = min(check_limit(limit), SAMPLE_MAX)
    ids = list(
        session.scalars(
            select(SegmentMember.customer_id)
            .where(
                SegmentMember.workspace_id == principal.workspace_id,
                SegmentMember.segment_id == segment.id,
            )
            .order_by(SegmentMember.customer_id)
            .limit(limit)
        )
    )
    return customers_service.listed_customers(session, principal, ids)


def changes(
    session: Session, principal: Principal, segment_id: int, cursor: str | None, limit: int
) -> PageOut[ChangeOut]:
    """Customers who entered or left the segment, newest first."""
    segment = segment_row(session, principal.workspace_id, segment_id)
    repo = SegmentRepository(session, principal.workspace_id)
    stmt = repo.changes_query(segment.id)
    if cursor:
        (before,) = decode_cursor(cursor, 1)
        stmt = stmt.where(SegmentChange.id < int(before))
    rows = list(
        session.scalars(stmt.order_by(SegmentChange.id.desc()).limit(check_limit(limit) + 1))
    )
    items = [ChangeOut.model_validate(r) for r in rows[:limit]]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return PageOut(items=items, next_cursor=next_cursor)


# -- building ----------------------------------------------------------------------------------


def build_order(session: Session, workspace_id: int, segment_id: int) -> list[int]:
    """The segment, if dynamic, then every dynamic segment that reads it, in build order."""
    segment = segment_row(session, workspace_id, segment_id)
    if segment.kind != "dynamic" or segment.rule is None:
        return []
    others = SegmentRepository(session, workspace_id).segments(kind="dynamic")
    return [segment.id, *(s.id for s in membership.dependents_of(segment.id, others))]


def rebuild_order(session: Session, workspace_id: int) -> list[int]:
    """Every dynamic segment, each after the segments its rule reads."""
    segments = SegmentRepository(session, workspace_id).segments(kind="dynamic")
    return [s.id for s in membership.dependency_order(segments)]


def answer_segment(session: Session, workspace_id: int, segment_id: int) -> membership.Answer:
    """Evaluate a dynamic segment's rule for every customer (reads only)."""
    segment = segment_row(session, workspace_id, segment_id)
    return membership.answer(session, segment, context(session, workspace_id))


def store_answer(
    session: Session, workspace_id: int, segment_id: int, answered: membership.Answer
) -> dict[str, int]:
    """Write the membership difference of an evaluation `answer_segment` made."""
    segment = segment_row(session, workspace_id, segment_id)
    if segment.kind != "dynamic" or segment.rule is None:
        return {"entered": 0, "left": 0}
    ctx = context(session, workspace_id, answered.now)
    entered, left = membership.build(session, segment, ctx, answered=answered)
    return {"entered": entered, "left": left}


def refresh_changed(session: Session, workspace_id: int, batch: int) -> int:
    """Re-evaluate every built dynamic segment for one batch of changed customers."""
    repo = SegmentRepository(session, workspace_id)
    changed = repo.changed_batch(batch)
    if changed is None:
        return 0
    segments = [s for s in repo.segments(kind="dynamic") if s.built_at is not None]
    if segments:
        ctx = context(session, workspace_id)
        features.refresh_customers(session, ctx, changed.with_orders)
        for segment in membership.dependency_order(segments):
            membership.build(session, segment, ctx, only=changed.ids)
    repo.clear_changed(changed.ids, changed.newest)
    return len(changed.ids)


def pending_changes(session: Session, workspace_id: int) -> int:
    return SegmentRepository(session, workspace_id).changed_count()


# -- snapshots ---------------------------------------------------------------------------------


def take_snapshot(
    session: Session, principal: Principal, segment_id: int, purpose: str | None
) -> SnapshotOut:
    """Freeze who is in the segment now: a dynamic rule is evaluated at this moment."""
    snapshot, members = _open_snapshot(session, principal, segment_id, purpose)
    picked = members.subquery()
    session.execute(
        insert(SegmentSnapshotMember).from_select(
            ["workspace_id", "snapshot_id", "customer_id"],
            select(literal(principal.workspace_id), literal(snapshot.id), picked.c[0]),
        )
    )
    snapshot.member_count = (
        session.scalar(select(func.count()).where(SegmentSnapshotMember.snapshot_id == snapshot.id))
        or 0
    )
    session.flush()
    # what reads the snapshot next (a broadcast's planning) joins it with a million rows
    StatisticsRefresher(session, ["segment_snapshot_member"]).wrote(snapshot.member_count)
    return SnapshotOut.model_validate(snapshot)


def freeze_audience(
    session: Session, principal: Principal, segment_id: int, purpose: str | None
) -> tuple[int, Select[Any]]:
    """A snapshot for a caller that keeps the frozen members itself, in this transaction.

    Records the moment, the rule and the segment like `take_snapshot`, and returns its id
    with the members as they are at that moment, as a query to read once now (a broadcast
    writes them as its delivery rows, one per customer). No member rows are copied: at a
    million customers the copy, with its three foreign keys per row, costs as much as the
    planning it serves. The caller records how many it kept with `count_frozen`.
    """
    snapshot, members = _open_snapshot(session, principal, segment_id, purpose)
    return snapshot.id, members


def count_frozen(session: Session, workspace_id: int, snapshot_id: int, member_count: int) -> None:
    snapshot = SegmentRepository(session, workspace_id).snapshot(snapshot_id)
    if snapshot is None:
        raise NotFound("snapshot")
    snapshot.member_count = member_count
    session.flush()


def _open_snapshot(
    session: Session, principal: Principal, segment_id: int, purpose: str | None
) -> tuple[SegmentSnapshot, Select[Any]]:
    segment = segment_row(session, principal.workspace_id, segment_id)
    now = utcnow()
    snapshot = SegmentSnapshot(
        workspace_id=principal.workspace_id,
        segment_id=segment.id,
        segment_name=segment.name,
        rule=segment.rule,
        taken_at=now,
        taken_by=principal.actor,
        purpose=purpose,
    )
    session.add(snapshot)
    session.flush()
    if segment.kind == "dynamic" and segment.rule is not None:
        members = compile_rule(
            parse_rule(segment.rule), context(session, principal.workspace_id, now)
        )
    else:
        members = select(SegmentMember.customer_id).where(
            SegmentMember.workspace_id == principal.workspace_id,
            SegmentMember.segment_id == segment.id,
        )
    return snapshot, members


def snapshot_members(workspace_id: int, snapshot_id: int) -> Select[Any]:
    """The customer ids of a snapshot, as a query other domains can build on."""
    return select(SegmentSnapshotMember.customer_id).where(
        SegmentSnapshotMember.workspace_id == workspace_id,
        SegmentSnapshotMember.snapshot_id == snapshot_id,
    )


def current_members(session: Session, workspace_id: int, segment_id: int) -> Select[Any]:
    """Who is in the segment at this moment: a dynamic rule is evaluated, a list is read."""
    segment = segment_row(session, workspace_id, segment_id)
    if segment.kind == "dynamic" and segment.rule is not None:
        return compile_rule(parse_rule(segment.rule), context(session, workspace_id))
    return select(SegmentMember.customer_id).where(
        SegmentMember.workspace_id == workspace_id, SegmentMember.segment_id == segment.id
    )


def snapshots(session: Session, principal: Principal, segment_id: int) -> list[SnapshotOut]:
    segment = segment_row(session, principal.workspace_id, segment_id)
    found = SegmentRepository(session, principal.workspace_id).snapshots(segment.id)
    return [SnapshotOut.model_validate(s) for s in found]


def snapshot_member_ids(session: Session, workspace_id: int, snapshot_id: int) -> list[int]:
    """The frozen audience of a snapshot (for sends)."""
    snapshot = SegmentRepository(session, workspace_id).snapshot(snapshot_id)
    if snapshot is None:
        raise NotFound("snapshot")
    return list(
        session.scalars(
            select(SegmentSnapshotMember.customer_id)
            .where(SegmentSnapshotMember.snapshot_id == snapshot.id)
            .order_by(SegmentSnapshotMember.customer_id)
        )
    )
