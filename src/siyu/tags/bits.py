"""Tag membership kept as bits (`tag_bits`), beside the assignments it mirrors.

Every write of `customer_tag` calls `keep` in the same transaction, so the bits are the
assignments at every commit. A block's row is created (ON CONFLICT DO NOTHING) and then
read locked, in key order (FOR UPDATE on PostgreSQL; SQLite has one writer anyway): two
transactions changing one block apply one after the other, and a removal followed by an
add of the same pair lands in the order their assignment rows did. Rows are never deleted
while the tag exists (an emptied block stays, all zeros), so a lock once taken holds.
"""

from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np
from sqlalchemy import Row, Select, Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import packed_ids
from siyu.kit.idbits import BLOCK_IDS, EMPTY_BLOCK, IdBits, block_of
from siyu.models import CustomerTag, TagBits

_TABLE = cast("Table", TagBits.__table__)
# Block rows read and written per statement.
_KEYS_PER_STATEMENT = 500

Pair = tuple[int, int]  # (customer id, tag id)
Key = tuple[int, int]  # (tag id, block)
_WRITE = (
    update(_TABLE)
    .where(_TABLE.c.tag_id == bindparam("t"), _TABLE.c.block == bindparam("b"))
    .values(bits=bindparam("v"))
)


def keep(
    session: Session, workspace_id: int, *, added: Iterable[Pair] = (), removed: Iterable[Pair] = ()
) -> None:
    """Set the bits of assignments just made and clear those of assignments just removed."""
    changes: dict[Key, tuple[list[int], list[int]]] = {}
    for index, pairs in enumerate((added, removed)):
        for customer_id, tag_id in pairs:
            changes.setdefault((tag_id, block_of(customer_id)), ([], []))[index].append(customer_id)
    keys = sorted(changes)
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        _apply(session, workspace_id, keys[start : start + _KEYS_PER_STATEMENT], changes)


def _apply(
    session: Session,
    workspace_id: int,
    keys: Sequence[Key],
    changes: dict[Key, tuple[list[int], list[int]]],
) -> None:
    stored = _lock(session, workspace_id, keys, create=[key for key in keys if changes[key][0]])
    written = []
    for tag_id, block, data in stored:
        set_ids, cleared_ids = changes[tag_id, block]
        flags = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        first = block * BLOCK_IDS
        flags[np.asarray(set_ids, np.int64) - first] = 1
        flags[np.asarray(cleared_ids, np.int64) - first] = 0
        bits = np.packbits(flags, bitorder="little").tobytes()
        written.append({"t": tag_id, "b": block, "v": bits})
    if written:
        session.execute(_WRITE, written)


def _lock(
    session: Session, workspace_id: int, keys: Sequence[Key], *, create: Sequence[Key]
) -> Sequence[Row[int, int, bytes]]:
    """Create the block rows of `create` that are missing, then lock and read the rows of
    `keys`, in key order."""
    if create:
        fresh = [
            {"workspace_id": workspace_id, "tag_id": tag_id, "block": block, "bits": EMPTY_BLOCK}
            for tag_id, block in create
        ]
        dialect = session.get_bind().dialect.name
        missing = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE)
        session.execute(missing.on_conflict_do_nothing(), fresh)
    return session.execute(
        select(TagBits.tag_id, TagBits.block, TagBits.bits)
        .where(
            TagBits.workspace_id == workspace_id,
            tuple_(TagBits.tag_id, TagBits.block).in_(keys),
        )
        .order_by(TagBits.tag_id, TagBits.block)
        .with_for_update()
    ).all()


def clear_tag(session: Session, workspace_id: int, tag_id: int) -> None:
    """Nobody carries the tag any more."""
    session.execute(
        update(TagBits)
        .where(TagBits.workspace_id == workspace_id, TagBits.tag_id == tag_id)
        .values(bits=EMPTY_BLOCK)
        .execution_options(synchronize_session=False)
    )


def forget_customers(session: Session, workspace_id: int, customer_ids: Sequence[int]) -> None:
    """Clear the bits of customers whose assignments are about to go with them."""
    for start in range(0, len(customer_ids), _KEYS_PER_STATEMENT):
        carried = session.execute(
            select(CustomerTag.customer_id, CustomerTag.tag_id).where(
                CustomerTag.workspace_id == workspace_id,
                CustomerTag.customer_id.in_(customer_ids[start : start + _KEYS_PER_STATEMENT]),
            )
        )
        keep(session, workspace_id, removed=[(c, t) for c, t in carried])


def rebuild(session: Session, workspace_id: int, tag_ids: Sequence[int]) -> None:
    """Write the tags' bits anew from their assignments (after rows were loaded past the
    services)."""
    dialect = session.get_bind().dialect.name
    for tag_id in tag_ids:
        session.execute(
            delete(TagBits).where(TagBits.workspace_id == workspace_id, TagBits.tag_id == tag_id)
        )
        rows = [
            {"workspace_id": workspace_id, "tag_id": tag_id, "block": block, "bits": data}
            for block, data in IdBits.parse(
                session.scalar(_carriers_packed(dialect, workspace_id, tag_id))
            )
            .blocks()
            .items()
        ]
        if rows:
            session.execute(insert(_TABLE), rows)


def drifted(session: Session, workspace_id: int, tag_ids: Sequence[int]) -> list[Key]:
    """The blocks whose stored bits are not the assignments (reads only), e.g. after
    customers were deleted past the services and their assignments went by cascade. A
    block a concurrent writer changed between the two reads may be named too; `repair`
    rewrites it to what it already is."""
    dialect = session.get_bind().dialect.name
    found: list[Key] = []
    for tag_id in tag_ids:
        assigned = IdBits.parse(session.scalar(_carriers_packed(dialect, workspace_id, tag_id)))
        wanted = assigned.blocks()
        stored = {
            block: data
            for _, block, data in session.execute(carriers_query(workspace_id, [tag_id]))
        }
        found += [
            (tag_id, block)
            for block in sorted(wanted.keys() | stored.keys())
            if wanted.get(block, EMPTY_BLOCK) != stored.get(block, EMPTY_BLOCK)
        ]
    return found


def repair(session: Session, workspace_id: int, keys: Sequence[Key]) -> None:
    """Rewrite these blocks from the assignments. Each block is locked before its
    assignments are read, so a writer's `keep` on it lands before (and is read) or after
    (and applies to the rewritten block)."""
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), _KEYS_PER_STATEMENT):
        chunk = ordered[start : start + _KEYS_PER_STATEMENT]
        _lock(session, workspace_id, chunk, create=chunk)
        written = [
            {"t": tag_id, "b": block, "v": _assigned_block(session, workspace_id, tag_id, block)}
            for tag_id, block in chunk
        ]
        session.execute(_WRITE, written)


def _assigned_block(session: Session, workspace_id: int, tag_id: int, block: int) -> bytes:
    first = block * BLOCK_IDS
    ids = session.scalars(
        select(CustomerTag.customer_id).where(
            CustomerTag.workspace_id == workspace_id,
            CustomerTag.tag_id == tag_id,
            CustomerTag.customer_id.between(first, first + BLOCK_IDS - 1),
        )
    ).all()
    return IdBits.from_ids(ids).blocks().get(block, EMPTY_BLOCK)


def _carriers_packed(dialect: str, workspace_id: int, tag_id: int) -> Select[Any]:
    return select(packed_ids(dialect, CustomerTag.customer_id)).where(
        CustomerTag.workspace_id == workspace_id, CustomerTag.tag_id == tag_id
    )


def carriers_query(workspace_id: int, tag_ids: Sequence[int]) -> Select[int, int, bytes]:
    """The stored blocks of these tags, as `carriers` reads them."""
    return select(TagBits.tag_id, TagBits.block, TagBits.bits).where(
        TagBits.workspace_id == workspace_id, TagBits.tag_id.in_(tag_ids)
    )


def carriers(rows: Iterable[tuple[int, int, bytes]], tag_ids: Sequence[int]) -> dict[int, IdBits]:
    """Per tag, the customers carrying it, from `carriers_query`'s rows."""
    blocks: dict[int, list[tuple[int, bytes]]] = {tag_id: [] for tag_id in tag_ids}
    for tag_id, block, data in rows:
        blocks[tag_id].append((block, data))
    return {tag_id: IdBits.from_blocks(found) for tag_id, found in blocks.items()}
