"""A full evaluation of a rule, its independent branches answered at once.

`compile_rule` turns a whole rule into one SQL query, which the database answers on one
core. A rule like "(tags) and (recent buyers or frequent viewers), not opted out, still a
friend" is several independent questions of 100–300 ms each at a million customers; here
each is asked on a read connection of its own, in parallel, and their ids are combined in
memory: "all" intersects, "any" unites, excluded sets ("not opted out") are taken out, and
conditions most customers meet ("still a WeCom friend") are checked for the survivors only.

Every branch is one `compile_rule` query, so the answer is the same set of live customers
the single query names (a test holds the two to each other). On PostgreSQL every branch
reads in the snapshot the session exports, so the answer is the database at one moment.
SQLite cannot share a snapshot: a customer who changes while the branches run may be
seen before the change by one and after it by another; the changed-customer refresh
settles their membership moments later, as it does for every change.
"""

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from siyu.db.engine import read_only
from siyu.segments.compiler import BROAD, IdSet, compile_rule, count_query, excluded
from siyu.segments.context import CompileContext
from siyu.segments.nodes import AllOf, AnyOf, RuleNode, SegmentCondition

# Branches asked at once, by all evaluations in this process together: their sizes are
# unknown beforehand, so they start together and the cores share them (rather than a long
# one waiting behind short ones), and the extra connections they hold stay bounded.
WORKERS = 4
_BRANCHES = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="segment-branch")
# Broad conditions are checked for at most this many survivors by id; beyond, read in full.
PROBE_MAX = 50_000
SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")


@dataclass(frozen=True)
class _Fetch:
    """A subtree answered by one query."""

    node: RuleNode


@dataclass(frozen=True)
class _Split:
    """A group whose parts are asked separately: "all" intersects them and takes out
    `minus`; "any" unites them."""

    every: bool
    parts: tuple["_Plan", ...]
    minus: tuple[IdSet, ...] = ()


_Plan = _Fetch | _Split


def matching_ids(
    session: Session, node: RuleNode, ctx: CompileContext, *, parallel: bool = True
) -> set[int]:
    """The live customers the rule holds for (see `split`)."""
    found = split(session, node, ctx, parallel=parallel)
    return ids(session, compile_rule(node, ctx)) if found is None else found


def counted(session: Session, node: RuleNode, ctx: CompileContext) -> tuple[int, set[int] | None]:
    """How many live customers the rule holds for, and who, when their ids were fetched
    anyway (the rule was asked branch by branch)."""
    found = split(session, node, ctx)
    if found is not None:
        return len(found), found
    return session.scalar(count_query(node, ctx)) or 0, None


def split(
    session: Session, node: RuleNode, ctx: CompileContext, *, parallel: bool = True
) -> set[int] | None:
    """The live customers the rule holds for, asked branch by branch; None when the rule
    has no independent branches (then it is best asked as one query, or counted by one).

    With `parallel`, and when the session reads from an engine (not from one connection's
    open transaction), the branches run on connections of their own; the session must
    then have no uncommitted writes the rule should see."""
    plan, probes = _top(node, ctx)
    if plan is None or _queries(plan) < 2:
        return None
    statements: list[IdSet] = []
    indexed = _index(plan, ctx, statements)
    found = _combine(indexed, _run(session, statements, parallel=parallel))
    if probes and found:
        checks = AllOf(probes)
        if len(found) > PROBE_MAX:
            found &= ids(session, compile_rule(checks, ctx))
        else:
            found = ids(session, compile_rule(checks, ctx, only=sorted(found)))
    return found


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


def _plan(node: RuleNode, ctx: CompileContext, *, top: bool = False) -> _Plan:
    if isinstance(node, AnyOf) and len(node.children) > 1:
        return _Split(every=False, parts=tuple(_plan(c, ctx) for c in node.children))
    if not isinstance(node, AllOf) or any(_drives(c) for c in node.children):
        return _Fetch(node)
    groups = [c for c in node.children if isinstance(c, AllOf | AnyOf)]
    leaves = [c for c in node.children if not isinstance(c, AllOf | AnyOf)]
    parts = [_plan(g, ctx) for g in groups]
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
    if not parts or (len(parts) == 1 and not minus and not top):
        return _Fetch(node)
    return _Split(every=True, parts=tuple(parts), minus=tuple(minus))


def _drives(node: RuleNode) -> bool:
    """A stored segment inside "all" drives the whole group better as one query."""
    return isinstance(node, SegmentCondition) and node.op == "in"


def _queries(plan: _Plan) -> int:
    if isinstance(plan, _Fetch):
        return 1
    return sum(_queries(p) for p in plan.parts) + len(plan.minus)


@dataclass(frozen=True)
class _Indexed:
    every: bool
    parts: tuple["int | _Indexed", ...]
    minus: tuple[int, ...]


def _index(plan: _Plan, ctx: CompileContext, statements: list[IdSet]) -> "int | _Indexed":
    """The plan with each query replaced by its place in `statements`."""
    if isinstance(plan, _Fetch):
        statements.append(compile_rule(plan.node, ctx))
        return len(statements) - 1
    parts = tuple(_index(p, ctx, statements) for p in plan.parts)
    minus = []
    for taken in plan.minus:
        statements.append(taken)
        minus.append(len(statements) - 1)
    return _Indexed(plan.every, parts, tuple(minus))


def _combine(indexed: "int | _Indexed", answers: Sequence[set[int]]) -> set[int]:
    if isinstance(indexed, int):
        return answers[indexed]
    parts = sorted((_combine(p, answers) for p in indexed.parts), key=len)
    found = set(parts[0]).intersection(*parts[1:]) if indexed.every else set().union(*parts)
    for taken in indexed.minus:
        found -= answers[taken]
    return found


def _run(session: Session, statements: list[IdSet], *, parallel: bool) -> list[set[int]]:
    bind = session.get_bind()
    if not parallel or len(statements) < 2 or not isinstance(bind, Engine):
        return [ids(session, s) for s in statements]
    engine = read_only(bind)  # on SQLite, readers that take no write lock
    snapshot = None
    if engine.dialect.name == "postgresql":
        # every branch reads the database as the session sees it now (kept while it is open)
        snapshot = session.scalar(text("SELECT pg_export_snapshot()"))
    return list(_BRANCHES.map(lambda s: fetch(engine, s, snapshot), statements))


def fetch(engine: Engine, statement: IdSet, snapshot: str | None) -> set[int]:
    """One branch's ids, on a connection of its own, in the exported `snapshot` if any."""
    options = {"isolation_level": "REPEATABLE READ"} if snapshot else {}
    with engine.connect().execution_options(**options) as connection:
        if snapshot is not None:
            if not SNAPSHOT_ID.fullmatch(snapshot):
                raise ValueError(f"unexpected snapshot id {snapshot!r}")
            # SET takes no bound parameters
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        return ids(connection, statement)


def ids(executor: Session | Connection, statement: IdSet) -> set[int]:
    """The ids a query names, packed by the database into one value: returned row by row,
    converting them costs more than finding them, and each row takes Python's GIL, which
    branches running beside each other then queue for."""
    found = statement.subquery()
    column = next(iter(found.c))
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    if bind.dialect.name == "postgresql":
        packed: Any = executor.scalar(select(func.array_agg(column)))
        return set(packed or ())
    packed = executor.scalar(select(func.group_concat(column, ",")))
    return set(map(int, packed.split(","))) if packed else set()
