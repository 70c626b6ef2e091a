"""Housekeeping: generated exports and finished imports' files do not pile up on disk."""

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.kit.time import utcnow
from siyu.models import ImportRun
from siyu.worker.context import JobContext
from siyu.worker.registry import job
from siyu.worker.schedules import SWEEP_FILES_JOB

log = logging.getLogger(__name__)

EXPORTS_DIR = "exports"
FINISHED = ("succeeded", "failed")


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def sweep_exports(exports_dir: Path, retention: timedelta) -> int:
    if not exports_dir.is_dir():
        return 0
    cutoff = (utcnow() - retention).timestamp()
    return sum(
        _remove(path)
        for path in exports_dir.iterdir()
        if path.is_file() and path.stat().st_mtime < cutoff
    )


def sweep_imports(session: Session, retention: timedelta) -> int:
    """Delete the upload and error report of imports that finished before the cutoff."""
    cutoff = utcnow() - retention
    runs = session.execute(
        select(ImportRun.stored_path, ImportRun.errors_path).where(
            ImportRun.status.in_(FINISHED), ImportRun.finished_at < cutoff
        )
    ).all()
    removed = 0
    for stored_path, errors_path in runs:
        removed += _remove(Path(stored_path))
        if errors_path:
            removed += _remove(Path(errors_path))
    return removed


@job(SWEEP_FILES_JOB)
def sweep_files(ctx: JobContext, payload: dict[str, Any]) -> dict[str, int]:
    data_dir = Path(payload["data_dir"])
    exports = sweep_exports(
        data_dir / EXPORTS_DIR, timedelta(days=int(payload["export_retention_days"]))
    )
    uploads = sweep_imports(ctx.session, timedelta(days=int(payload["upload_retention_days"])))
    if exports or uploads:
        log.info("housekeeping removed %s export and %s import files", exports, uploads)
    return {"exports_removed": exports, "import_files_removed": uploads}
