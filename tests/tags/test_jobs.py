from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import Job
from siyu.tags import batching, service
from siyu.tags.schemas import BatchAction, BatchIn
from siyu.workspace.principal import Principal
from tests.conftest import WorkspaceFixture
from tests.tags.conftest import MakeCustomers


def test_failed_batch_job_resumes_after_its_last_checkpoint(
    engine: Engine,
    workspace: WorkspaceFixture,
    make_customers: MakeCustomers,
    run_jobs: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    customers = make_customers(workspace.id, 1_300)  # three chunks of CHUNK_SIZE 500
    with unit_of_work(engine) as session:
        vip = service.ensure_tags(session, workspace.id, [("等级", "VIP")])[("等级", "VIP")]
        job_id = batching.start_batch(
            session,
            Principal.system(workspace.id),
            BatchIn(action=BatchAction.ADD, tag_ids=[vip], customer_ids=customers),
        ).job_id
    assert job_id is not None
    real_add = service.add_tags
    chunks_seen: list[int] = []

    def crash_on_second_chunk(
        session: Session,
        workspace_id: int,
        customer_ids: Sequence[int],
        tag_ids: Sequence[int],
        *,
        source: str,
        actor: str,
    ) -> int:
        chunks_seen.append(customer_ids[0])
        if len(chunks_seen) == 2:
            raise RuntimeError("worker died")
        return real_add(session, workspace_id, customer_ids, tag_ids, source=source, actor=actor)

    monkeypatch.setattr(service, "add_tags", crash_on_second_chunk)
    run_jobs()
    with unit_of_work(engine) as session:
        failed = session.get(Job, job_id)
        assert failed is not None
        assert failed.status == "queued"
        assert failed.result == {
            "after": customers[499],
            "changed": 500,
            "processed": 500,
        }
        session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))

    run_jobs()

    with unit_of_work(engine) as session:
        finished = session.get(Job, job_id)
        assert finished is not None
        assert finished.status == "succeeded"
        assert finished.result == {"changed": 1_300, "processed": 1_300}
    # first attempt: chunks 1 and 2 (crashed); second attempt starts again at chunk 2
    assert chunks_seen == [customers[0], customers[500], customers[500], customers[1000]]
