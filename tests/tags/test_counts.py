"""Kept tag counts: every write path moves them, and the hourly recount absorbs the rest."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from siyu.customers import merging
from siyu.db.session import unit_of_work
from siyu.models import Customer, Tag
from siyu.tags import service
from siyu.tags.repository import TagRepository
from siyu.worker.queue import enqueue
from siyu.worker.schedules import RECOUNT_TAGS_JOB
from tests.conftest import WorkspaceFixture, impatient_writer


def _customers(db: Session, workspace_id: int, n: int) -> list[int]:
    rows = [Customer(workspace_id=workspace_id, name=f"客户{i}") for i in range(n)]
    db.add_all(rows)
    db.flush()
    return [c.id for c in rows]


def _counts(db: Session, workspace_id: int) -> dict[str, int]:
    groups = service.list_groups(db, workspace_id)
    return {t.name: t.customer_count for g in groups for t in g.tags}


def test_adding_and_removing_tags_moves_the_kept_counts(
    db: Session, workspace: WorkspaceFixture
) -> None:
    ids = service.ensure_tags(db, workspace.id, [("兴趣", "绿茶"), ("兴趣", "红茶")])
    green, black = ids[("兴趣", "绿茶")], ids[("兴趣", "红茶")]
    customers = _customers(db, workspace.id, 5)

    service.add_tags(db, workspace.id, customers, [green], source="manual", actor="t")
    service.add_tags(db, workspace.id, customers[:2], [green, black], source="manual", actor="t")
    service.remove_tags(db, workspace.id, customers[3:], [green], source="manual", actor="t")

    assert _counts(db, workspace.id) == {"绿茶": 3, "红茶": 2}
    assert service.top_tags(db, workspace.id, 1) == [(green, "绿茶", 3)]
    assert service.recount_tags(db, workspace.id) == 0  # nothing drifted


def test_a_merge_that_drops_a_shared_tag_lowers_the_count_and_unmerge_restores_it(
    db: Session, workspace: WorkspaceFixture
) -> None:
    green = service.ensure_tags(db, workspace.id, [("兴趣", "绿茶")])[("兴趣", "绿茶")]
    survivor, merged = _customers(db, workspace.id, 2)
    service.add_tags(db, workspace.id, [survivor, merged], [green], source="manual", actor="t")

    record = merging.merge(db, workspace.id, survivor, merged, reason="同一手机号", actor="t")
    assert _counts(db, workspace.id) == {"绿茶": 1}

    merging.unmerge(db, workspace.id, record.id, actor="t")
    assert _counts(db, workspace.id) == {"绿茶": 2}
    assert service.recount_tags(db, workspace.id) == 0


def test_the_recount_job_corrects_counts_changed_behind_the_tags_service(
    engine: Engine, workspace: WorkspaceFixture, run_jobs: Callable[[], int]
) -> None:
    with unit_of_work(engine) as session:
        green = service.ensure_tags(session, workspace.id, [("兴趣", "绿茶")])[("兴趣", "绿茶")]
        customers = _customers(session, workspace.id, 3)
        service.add_tags(session, workspace.id, customers, [green], source="manual", actor="t")
        # Deleting customers cascades to their tags without the tags service knowing.
        session.execute(delete(Customer).where(Customer.id.in_(customers[:2])))
        enqueue(session, RECOUNT_TAGS_JOB, {}, workspace_id=None)

    assert run_jobs() == 1

    with Session(engine) as session:
        assert session.scalar(select(Tag.customer_count).where(Tag.id == green)) == 1


def test_the_recount_job_counts_without_the_write_lock_and_keeps_tags_added_meanwhile(
    engine: Engine,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with unit_of_work(engine) as session:
        green = service.ensure_tags(session, workspace.id, [("兴趣", "绿茶")])[("兴趣", "绿茶")]
        customers = _customers(session, workspace.id, 4)
        service.add_tags(session, workspace.id, customers[:3], [green], source="manual", actor="t")
        session.execute(delete(Customer).where(Customer.id == customers[0]))  # count drifts
        enqueue(session, RECOUNT_TAGS_JOB, {}, workspace_id=workspace.id)
    drift = TagRepository.drift
    read: list[dict[int, int]] = []

    def tag_another_customer_after_counting(self: TagRepository, *args: Any) -> dict[int, int]:
        read.append(drift(self, *args))
        with impatient_writer(engine) as other, Session(bind=other) as session:
            service.add_tags(
                session, workspace.id, [customers[3]], [green], source="manual", actor="t"
            )
            session.commit()
        return read[-1]

    monkeypatch.setattr(TagRepository, "drift", tag_another_customer_after_counting)
    assert run_jobs() == 1

    assert read == [{green: -1}]
    with Session(engine) as session:
        assert session.scalar(select(Tag.customer_count).where(Tag.id == green)) == 3
