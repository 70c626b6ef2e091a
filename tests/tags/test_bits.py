"""The kept tag bits are the assignments at every commit, whichever path wrote them."""

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from siyu.customers import merging
from siyu.customers import service as customers_service
from siyu.db.session import unit_of_work
from siyu.kit.idbits import BLOCK_IDS, EMPTY_BLOCK
from siyu.models import Customer, CustomerTag, Job, Tag, TagBits
from siyu.tags import service
from siyu.worker.queue import enqueue
from siyu.worker.schedules import RECOUNT_TAGS_JOB
from siyu.workspace.principal import Principal
from tests.conftest import WorkspaceFixture

# Far above the ids the tests' sequences hand out, spread over three blocks.
SPREAD = [10_000 * BLOCK_IDS + offset for offset in (0, 1, 8191, 8192, 20_000, 20_001)]


def _customers(db: Session, workspace_id: int, ids: list[int]) -> list[int]:
    db.execute(
        insert(Customer), [{"id": i, "workspace_id": workspace_id, "name": f"客户{i}"} for i in ids]
    )
    return ids


def _kept(db: Session, workspace_id: int) -> dict[int, set[int]]:
    tag_ids = list(db.scalars(select(Tag.id).where(Tag.workspace_id == workspace_id)))
    rows = db.execute(service.bits_query(workspace_id, tag_ids))
    carried = service.carriers(rows, tag_ids)
    return {tag_id: set(bits.ids().tolist()) for tag_id, bits in carried.items() if len(bits)}


def _assigned(db: Session, workspace_id: int) -> dict[int, set[int]]:
    found: dict[int, set[int]] = defaultdict(set)
    rows = db.execute(
        select(CustomerTag.tag_id, CustomerTag.customer_id).where(
            CustomerTag.workspace_id == workspace_id
        )
    )
    for tag_id, customer_id in rows:
        found[tag_id].add(customer_id)
    return dict(found)


def _agree(db: Session, workspace_id: int) -> dict[int, set[int]]:
    db.flush()
    kept = _kept(db, workspace_id)
    assert kept == _assigned(db, workspace_id)
    return kept


def test_every_write_of_assignments_keeps_the_bits(
    db: Session, workspace: WorkspaceFixture
) -> None:
    ws = workspace.id
    tags = service.ensure_tags(db, ws, [("兴趣", "绿茶"), ("兴趣", "红茶"), ("渠道", "天猫")])
    green, black, tmall = tags[("兴趣", "绿茶")], tags[("兴趣", "红茶")], tags[("渠道", "天猫")]
    a, b, c, d, e, f = _customers(db, ws, SPREAD)

    service.add_tags(db, ws, [a, b, c, d, e], [green, black], source="manual", actor="t")
    assert _agree(db, ws) == {green: {a, b, c, d, e}, black: {a, b, c, d, e}}

    service.remove_tags(db, ws, [b, d, f], [green], source="manual", actor="t")
    assert _agree(db, ws)[green] == {a, c, e}

    service.set_wecom_customer_tags(db, ws, {f: {tmall}})  # not mirrored: nothing changes
    service.add_tags(db, ws, [f], [tmall], source="wecom", actor="t")
    assert _agree(db, ws)[tmall] == {f}

    record = merging.merge(db, ws, a, b, reason="同一手机号", actor="t")
    kept = _agree(db, ws)
    assert a in kept[black]
    assert b not in kept[black]

    merging.unmerge(db, ws, record.id, actor="t")
    assert _agree(db, ws)[black] == {a, b, c, d, e}

    merging.merge(db, ws, e, f, reason="同一手机号", actor="t")
    assert _agree(db, ws)[tmall] == {e}

    customers_service.delete_customer(db, Principal.system(ws), c)
    assert c not in set().union(*_agree(db, ws).values())

    service.delete_tag(db, Principal.system(ws), black)
    assert black not in _agree(db, ws)


def test_bits_of_rows_loaded_past_the_services_are_rebuilt(
    db: Session, workspace: WorkspaceFixture
) -> None:
    ws = workspace.id
    green = service.ensure_tags(db, ws, [("兴趣", "绿茶")])[("兴趣", "绿茶")]
    ids = _customers(db, ws, SPREAD)
    db.execute(
        insert(CustomerTag),
        [{"workspace_id": ws, "customer_id": i, "tag_id": green, "source": "import"} for i in ids],
    )
    assert _kept(db, ws) == {}

    service.rebuild_bits(db, ws)
    assert _agree(db, ws) == {green: set(ids)}


def test_the_hourly_recount_rewrites_the_blocks_that_drifted_from_the_assignments(
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ws = workspace.id
    with unit_of_work(engine) as session:
        tags = service.ensure_tags(
            session, ws, [("兴趣", "绿茶"), ("兴趣", "红茶"), ("渠道", "天猫")]
        )
        green, black, tmall = tags[("兴趣", "绿茶")], tags[("兴趣", "红茶")], tags[("渠道", "天猫")]
        ids = _customers(session, ws, SPREAD)
        service.add_tags(session, ws, ids, [green], source="manual", actor="t")
        service.add_tags(session, ws, ids[2:4], [black], source="manual", actor="t")
        # Past the services: a deleted customer's assignments go by cascade, an emptied
        # block, an assignment loaded without its bit.
        session.execute(delete(Customer).where(Customer.id == ids[0]))
        session.execute(update(TagBits).where(TagBits.tag_id == black).values(bits=EMPTY_BLOCK))
        session.execute(
            insert(CustomerTag),
            [{"workspace_id": ws, "customer_id": ids[5], "tag_id": tmall, "source": "import"}],
        )
        job_id = enqueue(session, RECOUNT_TAGS_JOB, {}, workspace_id=None).id
    with Session(engine) as session:
        assert _kept(session, ws) != _assigned(session, ws)

    with caplog.at_level(logging.WARNING, logger="siyu.tags.jobs"):
        assert run_jobs() == 1

    with Session(engine) as session:
        assert _agree(session, ws) == {green: set(ids[1:]), black: set(ids[2:4]), tmall: {ids[5]}}
        done = session.get(Job, job_id)
        assert done is not None
        assert done.result is not None
        # green's first block, black's two emptied ones, tmall's third
        assert done.result["bit_blocks_repaired"] == 4
    assert f"in 4 blocks of tags {sorted([green, black, tmall])}" in caplog.text
    with unit_of_work(engine) as session:
        assert service.bits_drift(session, ws) == []


def test_writers_changing_one_block_at_once_lose_no_bit(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    """Merges keep the bits without touching the tag's row (tag writes also lock it for
    its count), so two of them must still apply one after the other."""
    ws = workspace.id
    with unit_of_work(engine) as session:
        green = service.ensure_tags(session, ws, [("兴趣", "绿茶")])[("兴趣", "绿茶")]
        ids = _customers(session, ws, [10_000 * BLOCK_IDS + i for i in range(40)])
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def move_one_by_one(mine: list[int]) -> None:
        try:
            start.wait()
            for customer_id in mine:
                with unit_of_work(engine) as session:
                    service.assignments_moved(session, ws, added=[(customer_id, green)], removed=[])
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    writers = [threading.Thread(target=move_one_by_one, args=(ids[i::2],)) for i in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert failures == []
    with unit_of_work(engine) as session:
        assert _kept(session, ws) == {green: set(ids)}
