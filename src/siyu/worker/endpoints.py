from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from siyu.db.dependencies import DbSession
from siyu.worker.queue import get_job
from siyu.workspace.dependencies import Viewer

router = APIRouter(tags=["jobs"])


class JobOut(BaseModel):
    id: int
    name: str
    status: str
    attempts: int
    progress_done: int
    progress_total: int | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@router.get("/jobs/{job_id}", response_model=JobOut)
def read_job(job_id: int, session: DbSession, principal: Viewer) -> JobOut:
    """A background job's status, progress and result (its error's first line if it failed)."""
    job = get_job(session, job_id, workspace_id=principal.workspace_id)
    error = job.last_error.splitlines()[0] if job.last_error else None
    return JobOut(
        id=job.id,
        name=job.name,
        status=job.status,
        attempts=job.attempts,
        progress_done=job.progress_done,
        progress_total=job.progress_total,
        result=job.result,
        error=error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )
