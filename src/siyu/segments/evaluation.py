"""A full evaluation of a rule, its independent branches answered at once.

`compile_rule` turns a whole rule into one SQL query, which the database answers on one
core. A rule like "(tags) and (recent buyers or frequent viewers), not opted out, still a
friend" is several independent questions of 100–300 ms each at a million customers; here
each is asked on a read connection of its own, in parallel, and their ids are combined in
memory: "all" intersects, "any" unites, excluded sets ("not opted out") are taken out, and
conditions most customers meet ("still a WeCom friend") are checked for the survivors only.
Sets are held as bits (`IdBits`): combining them costs microseconds, and a branch's ids
travel from the database as one string parsed in C.

Tag conditions are answered from the bits the tags domain keeps (`tag_bits`), a few KiB
per tag, instead of their assignments; a windowed event condition sums its daily counters
in one pass instead of grouping them in the database; every other branch is one
`compile_rule` query. The answer is the same set of live customers the single query names
(a test holds the two to each other). On PostgreSQL every branch reads in the snapshot the
session exports, so the answer is the database at one moment.
SQLite cannot share a snapshot: a customer who changes while the branches run may be
seen before the change by one and after it by another; the changed-customer refresh
settles their membership moments later, as it does for every change.
"""

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

from sqlalchemy import Connection, Engine, Select, select, text
from sqlalchemy.orm import Session

from siyu.db.bulk import packed_ids
from siyu.db.engine import read_only
from siyu.kit.idbits import IdBits
from siyu.models import Customer
from siyu.segments.compiler import (
    BROAD,
    IdSet,
    compile_rule,
    count_query,
    counter_rows,
    excluded,
    row_table,
)
from siyu.segments.context import CompileContext
from siyu.segments.nodes import (
    AllOf,
    AnyOf,
    EventCondition,
    RuleNode,
    SegmentCondition,
    TagCondition,
)
from siyu.tags import service as tags_service

# Branches asked at once, by all evaluations in this process together: their sizes are
# unknown beforehand, so they start together and the cores share them (rather than a long
# one waiting behind short ones), and the extra connections they hold stay bounded.
WORKERS = 4
_BRANCHES = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="segment-branch")
# An evaluation groups up to a few hundred thousand rows: in PostgreSQL's default 4 MB its
# hash spills to disk, and compiling it (JIT) costs more than it saves at this size.
READ_SETTINGS = ("work_mem = '64MB'", "jit = off")
# Broad conditions are checked for at most this many survivors by id; beyond, read in full.
PROBE_MAX = 50_000
SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")


@dataclass(frozen=True)
class _Fetch:
    """A subtree answered by one query."""

    node: RuleNode


@dataclass(frozen=True)
class _Tags:
    """Tag conditions answered from the kept bits: the positive ones intersected, the
    tags of the negative ones ("has none of") taken out."""

    positive: tuple[TagCondition, ...]
    negative: tuple[TagCondition, ...] = ()

    def tag_ids(self) -> tuple[int, ...]:
        return tuple(t for c in self.positive + self.negative for t in c.tag_ids)


@dataclass(frozen=True)
class _Counted:
    """A windowed event condition answered by summing its daily counters in memory: one
    pass over 350,000 counter rows (one category over 30 days at size M) where SQLite groups
    by sorting and PostgreSQL's hash aggregate takes twice as long as sending them packed."""

    condition: EventCondition


@dataclass(frozen=True)
class _CounterRead:
    rows: Select[int, int]
    threshold: int


@dataclass(frozen=True)
class _TagRead:
    """The kept bits of these tags, read as one statement."""

    workspace_id: int
    tag_ids: tuple[int, ...]


@dataclass(frozen=True)
class _Split:
    """A group whose parts are asked separately: "all" intersects them and takes out
    `minus`; "any" unites them."""

    every: bool
    parts: tuple["_Plan", ...]
    minus: tuple[IdSet, ...] = ()


_Plan = _Fetch | _Tags | _Counted | _Split
_Read = IdSet | _TagRead | _CounterRead
_Answer = IdBits | dict[int, IdBits]


def matching_ids(
    session: Session, node: RuleNode, ctx: CompileContext, *, parallel: bool = True
) -> list[int]:
    """The live customers the rule holds for, ascending (see `split`)."""
    _tune(session)
    found = split(session, node, ctx, parallel=parallel)
    return (ids(session, compile_rule(node, ctx)) if found is None else found).ids().tolist()  # type: ignore[no-any-return]


def counted(session: Session, node: RuleNode, ctx: CompileContext) -> tuple[int, IdBits | None]:
    """How many live customers the rule holds for, and who, when their ids were fetched
    anyway (the rule was asked branch by branch)."""
    _tune(session)
    found = split(session, node, ctx)
    if found is not None:
        return len(found), found
    return session.scalar(count_query(node, ctx)) or 0, None


def split(
    session: Session, node: RuleNode, ctx: CompileContext, *, parallel: bool = True
) -> IdBits | None:
    """The live customers the rule holds for, asked branch by branch; None when the rule
    has neither independent branches nor tag conditions the kept bits answer (then it is
    best asked as one query, or counted by one).

    With `parallel`, and when the session reads from an engine (not from one connection's
    open transaction), the branches run on connections of their own; the session must
    then have no uncommitted writes the rule should see."""
    plan, probes = _top(node, ctx)
    if plan is None or (_queries(plan) < 2 and not _reads_past_queries(plan)):
        return None
    statements: list[_Read] = []
    indexed = _index(plan, ctx, statements)
    if _reads_past_queries(plan):
        # kept bits and counters do not tell merged customers apart; queries leave them out
        statements.append(_merged(ctx))
        indexed = _Indexed(every=True, parts=(indexed,), minus=(len(statements) - 1,))
    found = _combine(indexed, _run(session, statements, parallel=parallel))
    if probes and len(found):
        checks = AllOf(probes)
        if len(found) > PROBE_MAX:
            found &= ids(session, compile_rule(checks, ctx))
        else:
            found = ids(session, compile_rule(checks, ctx, only=found.ids().tolist()))
    return found


def _merged(ctx: CompileContext) -> IdSet:
    return select(Customer.id).where(
        Customer.workspace_id == ctx.workspace_id, Customer.merged_into_id > 0
    )


def _top(node: RuleNode, ctx: CompileContext) -> tuple[_Plan | None, tuple[RuleNode, ...]]:
    """The plan for the rule, with the broad conditions of a top-level "all" set aside to
    be checked for the customers the rest leaves."""
    if not isinstance(node, AllOf):
        return _plan(node, ctx), ()
    probes = tuple(c for c in node.children if _broad(c, ctx))
    rest = tuple(c for c in node.children if c not in probes)
    if not rest:
        return None, ()
    return _plan(AllOf(rest), ctx, top=True), probes


def _broad(node: RuleNode, ctx: CompileContext) -> bool:
    return isinstance(node, BROAD) and excluded(node, ctx) is None


def _kept(node: RuleNode) -> bool:
    """A tag condition the kept bits answer (they do not record who put a tag on)."""
    return isinstance(node, TagCondition) and node.source is None


def _summed(node: RuleNode, ctx: CompileContext) -> bool:
    """An event condition `_Counted` answers (the compiler reads it from counters)."""
    return isinstance(node, EventCondition) and counter_rows(node, ctx) is not None


def _plan(node: RuleNode, ctx: CompileContext, *, top: bool = False) -> _Plan:
    if isinstance(node, TagCondition) and _kept(node) and node.op != "has_none":
        return _Tags((node,))
    if isinstance(node, EventCondition) and _summed(node, ctx):
        return _Counted(node)
    if isinstance(node, AnyOf) and len(node.children) > 1:
        return _Split(every=False, parts=tuple(_plan(c, ctx) for c in node.children))
    if not isinstance(node, AllOf) or any(_drives(c) for c in node.children):
        return _Fetch(node)
    return _plan_all(node, ctx, top=top)


def _plan_all(node: AllOf, ctx: CompileContext, *, top: bool) -> _Plan:
    groups = [c for c in node.children if isinstance(c, AllOf | AnyOf)]
    leaves = [c for c in node.children if not isinstance(c, AllOf | AnyOf)]
    parts: list[_Plan] = [_plan(g, ctx) for g in groups]
    summed = [c for c in leaves if isinstance(c, EventCondition) and _summed(c, ctx)]
    leaves = [c for c in leaves if c not in summed]
    parts += [_Counted(c) for c in summed]
    tags = [c for c in leaves if isinstance(c, TagCondition) and _kept(c)]
    if any(t.op != "has_none" for t in tags):
        leaves = [c for c in leaves if c not in tags]
        parts.append(
            _Tags(
                positive=tuple(t for t in tags if t.op != "has_none"),
                negative=tuple(t for t in tags if t.op == "has_none"),
            )
        )
    tables = [row_table(leaf, ctx) for leaf in leaves]
    if None not in tables and len(set(tables)) > 1:
        # Filters on different tables of one row per customer: each table's range read
        # apart, intersected as bits (an INTERSECT sorts both sides first).
        for table in dict.fromkeys(tables):
            same = tuple(leaf for leaf, t in zip(leaves, tables, strict=True) if t == table)
            parts.append(_Fetch(AllOf(same)))
        leaves = []
    negatives = [excluded(leaf, ctx) for leaf in leaves]
    if any(n is None and not _broad(leaf, ctx) for leaf, n in zip(leaves, negatives, strict=True)):
        # Leaves asked together: the compiler subtracts their negatives and probes their
        # broad conditions for the customers their positive ones leave.
        parts.append(_Fetch(AllOf(tuple(leaves))))
        minus: list[IdSet] = []
    elif any(n is None for n in negatives) and not top:
        return _Fetch(node)  # only broad conditions and negatives beside the groups
    else:
        minus = [n for n in negatives if n is not None]
    if len(parts) == 1 and not minus and not top:
        return parts[0] if isinstance(parts[0], _Tags | _Counted) else _Fetch(node)
    if not parts:
        return _Fetch(node)
    return _Split(every=True, parts=tuple(parts), minus=tuple(minus))


def _drives(node: RuleNode) -> bool:
    """A stored segment inside "all" drives the whole group better as one query."""
    return isinstance(node, SegmentCondition) and node.op == "in"


def _queries(plan: _Plan) -> int:
    if isinstance(plan, _Fetch | _Tags | _Counted):
        return 1
    return sum(_queries(p) for p in plan.parts) + len(plan.minus)


def _reads_past_queries(plan: _Plan) -> bool:
    """Whether the plan reads kept bits or counters, not only `compile_rule` queries."""
    if isinstance(plan, _Split):
        return any(_reads_past_queries(p) for p in plan.parts)
    return isinstance(plan, _Tags | _Counted)


@dataclass(frozen=True)
class _Indexed:
    every: bool
    parts: tuple["_Placed", ...]
    minus: tuple[int, ...]


@dataclass(frozen=True)
class _IndexedTags:
    tags: _Tags
    read: int


_Placed = int | _Indexed | _IndexedTags


def _index(plan: _Plan, ctx: CompileContext, statements: list[_Read]) -> _Placed:
    """The plan with each read replaced by its place in `statements`."""
    if isinstance(plan, _Fetch):
        statements.append(compile_rule(plan.node, ctx))
        return len(statements) - 1
    if isinstance(plan, _Tags):
        statements.append(_TagRead(ctx.workspace_id, plan.tag_ids()))
        return _IndexedTags(plan, len(statements) - 1)
    if isinstance(plan, _Counted):
        found = counter_rows(plan.condition, ctx)
        assert found is not None
        statements.append(_CounterRead(*found))
        return len(statements) - 1
    parts = tuple(_index(p, ctx, statements) for p in plan.parts)
    minus = []
    for taken in plan.minus:
        statements.append(taken)
        minus.append(len(statements) - 1)
    return _Indexed(plan.every, parts, tuple(minus))


def _combine(placed: _Placed, answers: Sequence[_Answer]) -> IdBits:
    if isinstance(placed, int):
        return _ids(answers[placed])
    if isinstance(placed, _IndexedTags):
        carried = answers[placed.read]
        assert isinstance(carried, dict)

        def holders(condition: TagCondition) -> IdBits:
            every = condition.op == "has_all"
            return reduce(and_ if every else or_, (carried[t] for t in condition.tag_ids))

        found = reduce(and_, map(holders, placed.tags.positive))
        return reduce(lambda kept, c: kept - holders(c), placed.tags.negative, found)
    parts = [_combine(p, answers) for p in placed.parts]
    found = reduce(and_ if placed.every else or_, parts)
    for taken in placed.minus:
        found -= _ids(answers[taken])
    return found


def _ids(answer: _Answer) -> IdBits:
    assert isinstance(answer, IdBits)
    return answer


def _run(session: Session, statements: list[_Read], *, parallel: bool) -> list[_Answer]:
    bind = session.get_bind()
    if not parallel or len(statements) < 2 or not isinstance(bind, Engine):
        return [read(session, s) for s in statements]
    engine = read_only(bind)  # on SQLite, readers that take no write lock
    snapshot = None
    if engine.dialect.name == "postgresql":
        # every branch reads the database as the session sees it now (kept while it is open)
        snapshot = session.scalar(text("SELECT pg_export_snapshot()"))
    return list(_BRANCHES.map(lambda s: fetch(engine, s, snapshot), statements))


def fetch(engine: Engine, statement: _Read, snapshot: str | None) -> _Answer:
    """One branch's answer, on a connection of its own, in the exported `snapshot` if any."""
    options = {"isolation_level": "REPEATABLE READ"} if snapshot else {}
    with engine.connect().execution_options(**options) as connection:
        if snapshot is not None:
            if not SNAPSHOT_ID.fullmatch(snapshot):
                raise ValueError(f"unexpected snapshot id {snapshot!r}")
            # SET takes no bound parameters
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        _tune(connection)
        return read(connection, statement)


def _tune(executor: Session | Connection) -> None:
    """PostgreSQL settings for the rest of this transaction (`READ_SETTINGS`)."""
    if _dialect(executor) == "postgresql":
        for setting in READ_SETTINGS:
            executor.execute(text(f"SET LOCAL {setting}"))


def read(executor: Session | Connection, statement: _Read) -> _Answer:
    if isinstance(statement, _CounterRead):
        counted = statement.rows.subquery()
        dialect = _dialect(executor)
        packed = executor.execute(
            select(packed_ids(dialect, counted.c.customer_id), packed_ids(dialect, counted.c.count))
        ).one()
        return IdBits.summing_to(packed[0], packed[1], statement.threshold)
    if isinstance(statement, _TagRead):
        blocks = executor.execute(
            tags_service.bits_query(statement.workspace_id, statement.tag_ids)
        )
        return tags_service.carriers(blocks, statement.tag_ids)
    return ids(executor, statement)


def ids(executor: Session | Connection, statement: IdSet) -> IdBits:
    """The ids a query names, packed by the database into one string: returned row by
    row, converting them costs more than finding them, and each row takes Python's GIL,
    which branches running beside each other then queue for."""
    found = statement.subquery()
    return IdBits.parse(
        executor.scalar(select(packed_ids(_dialect(executor), next(iter(found.c)))))
    )


def _dialect(executor: Session | Connection) -> str:
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    return bind.dialect.name
