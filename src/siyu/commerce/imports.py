"""The import wizard: upload a file, check the mapping, run it in the background, report.

Reading an import run and its error report works for every kind of import ("orders"
here, "customers" in the customers domain): both keep their rows in `import_run`.
"""

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from siyu.commerce.importing import DEFAULT_CHUNK_ROWS, csv_encoding, parser_for
from siyu.commerce.repository import CommerceRepository
from siyu.commerce.schemas import ImportMappingIn, ImportOut, ImportPreviewOut
from siyu.connectors.commerce import Platform
from siyu.connectors.commerce.detect import detect_platform, format_for
from siyu.exceptions import Conflict, Gone, NotFound, SiyuError, ValidationFailed
from siyu.kit.tabular import ErrorFile, Table, open_table, preview
from siyu.kit.uploads import COPY_BLOCK, store_upload
from siyu.models import ImportRun, Job
from siyu.worker.queue import enqueue, get_job
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

MAX_IMPORT_BYTES = 1 << 30
PREVIEW_ROWS = 20
IMPORT_JOB = "commerce.import_orders"


@dataclass(frozen=True)
class ImportPreview:
    run: ImportRun
    headers: list[str]
    detected_platform: Platform | None
    suggested_mapping: dict[str, str]
    rows: list[list[str]]


def upload_order_import(
    session: Session,
    principal: Principal,
    *,
    filename: str,
    stream: BinaryIO,
    data_dir: Path,
    max_bytes: int | None = None,
) -> ImportPreview:
    """Store an uploaded order export under data_dir/imports/<workspace>/ and inspect it."""
    slug = workspace_service.get_workspace(session, principal.workspace_id).slug
    limit = MAX_IMPORT_BYTES if max_bytes is None else max_bytes
    path = store_upload(data_dir / "imports" / slug, filename, stream, max_bytes=limit)
    try:
        return create_order_import(session, principal, path, filename=filename)
    except SiyuError:
        path.unlink(missing_ok=True)
        raise


def create_order_import(
    session: Session,
    principal: Principal,
    path: Path,
    *,
    filename: str,
    platform: Platform | None = None,
) -> ImportPreview:
    """An import run for a file on disk: encoding, platform and a suggested mapping."""
    table = open_table(path)
    detected = detect_platform(table.headers)
    chosen = platform or detected
    suggested = format_for(chosen).suggest_mapping(table.headers) if chosen else {}
    run = ImportRun(
        workspace_id=principal.workspace_id,
        kind="orders",
        platform=chosen.value if chosen else None,
        filename=filename[:300],
        stored_path=str(path.resolve()),
        encoding=table.encoding or table.format,
        mapping={"columns": suggested, "statuses": {}},
        status="uploaded",
        total_rows=table.estimate_rows(),
        created_by=principal.actor,
    )
    session.add(run)
    session.flush()
    shown = preview(path, PREVIEW_ROWS)
    return ImportPreview(run, table.headers, detected, suggested, shown.rows)


def _run(session: Session, workspace_id: int, import_id: int, *, kind: str | None) -> ImportRun:
    run = CommerceRepository(session, workspace_id).import_run(import_id)
    if run is None or (kind is not None and run.kind != kind):
        raise NotFound("import")
    return run


def _table(run: ImportRun) -> Table:
    try:
        return open_table(run.stored_path, encoding=csv_encoding(run))
    except FileNotFoundError as exc:
        raise Conflict("the uploaded file is gone; upload it again") from exc


def set_mapping(
    session: Session, principal: Principal, import_id: int, mapping: ImportMappingIn
) -> ImportRun:
    """Change the platform and the column mapping of an import that has not started."""
    run = _run(session, principal.workspace_id, import_id, kind="orders")
    if run.status != "uploaded":
        raise Conflict(f"the import is {run.status}; only a new upload can be remapped")
    run.platform = mapping.platform.value
    run.mapping = {
        "columns": dict(mapping.columns),
        "statuses": {word: status.value for word, status in mapping.statuses.items()},
    }
    parser_for(run, _table(run).headers)  # validates: known fields, real headers, required
    return run


def start_import(
    session: Session, principal: Principal, import_id: int, *, chunk_rows: int | None = None
) -> ImportRun:
    """Queue the import job (it commits with the caller's unit of work)."""
    run = _run(session, principal.workspace_id, import_id, kind="orders")
    if run.status != "uploaded":
        raise Conflict(f"the import is already {run.status}")
    if not run.platform:
        raise ValidationFailed("platform", "choose the platform the file comes from")
    parser_for(run, _table(run).headers)
    payload = {"import_run_id": run.id, "chunk_rows": chunk_rows or DEFAULT_CHUNK_ROWS}
    job = enqueue(
        session,
        IMPORT_JOB,
        payload,
        workspace_id=principal.workspace_id,
        dedupe_key=f"import-run:{run.id}",
    )
    run.status = "queued"
    run.job_id = job.id
    return run


def import_out(run: ImportRun, job: Job | None = None) -> ImportOut:
    """The run as the console shows it; a dead-lettered job means the import failed."""
    status, message = run.status, run.message
    if job is not None and job.status == "dead" and status in {"queued", "running"}:
        status = "failed"
        message = (job.last_error or "the import job failed").splitlines()[0][:1000]
    return ImportOut(
        id=run.id,
        kind=run.kind,
        platform=run.platform,
        filename=run.filename,
        encoding=run.encoding,
        mapping=run.mapping,
        status=status,
        total_rows=run.total_rows,
        processed_rows=run.processed_rows,
        imported=run.imported,
        updated=run.updated,
        failed=run.failed,
        has_errors=run.failed > 0,
        message=message,
        created_by=run.created_by,
        job_id=run.job_id,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def preview_out(shown: ImportPreview) -> ImportPreviewOut:
    base = import_out(shown.run)
    return ImportPreviewOut(
        **base.model_dump(),
        headers=shown.headers,
        detected_platform=shown.detected_platform.value if shown.detected_platform else None,
        suggested_mapping=shown.suggested_mapping,
        preview=shown.rows,
    )


def get_import(session: Session, workspace_id: int, import_id: int) -> ImportOut:
    run = _run(session, workspace_id, import_id, kind=None)
    job = get_job(session, run.job_id, workspace_id=workspace_id) if run.job_id else None
    return import_out(run, job)


def list_imports(
    session: Session, principal: Principal, *, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[ImportOut], str | None]:
    runs, next_cursor = CommerceRepository(session, principal.workspace_id).list_import_runs(
        kind=kind, cursor=cursor, limit=limit
    )
    return [import_out(run) for run in runs], next_cursor


@dataclass(frozen=True)
class ErrorReport:
    path: Path | None
    # Bytes that belong to committed work (None: the whole file).
    size: int | None
    filename: str

    def chunks(self) -> Iterator[bytes]:
        """The CSV (row, column, reason); just the header while there are no errors."""
        if self.path is None:
            yield codecs.BOM_UTF8 + ",".join(ErrorFile.HEADER).encode() + b"\r\n"
            return
        remaining = self.size
        with self.path.open("rb") as source:
            while remaining is None or remaining > 0:
                block = source.read(COPY_BLOCK if remaining is None else min(COPY_BLOCK, remaining))
                if not block:
                    return
                if remaining is not None:
                    remaining -= len(block)
                yield block


def error_report(session: Session, principal: Principal, import_id: int) -> ErrorReport:
    """The per-row errors of an import, as far as its committed chunks go."""
    run = _run(session, principal.workspace_id, import_id, kind=None)
    workspace_service.audit(
        session, principal, "import.errors.download", target_type="import_run", target_id=run.id
    )
    filename = f"import-{run.id}-errors.csv"
    if not run.errors_path or not Path(run.errors_path).exists():
        if run.failed and run.finished_at is not None:
            raise Gone(
                "the error file was deleted by housekeeping (SIYU_UPLOAD_RETENTION_DAYS)",
                {"import_id": run.id, "finished_at": run.finished_at.isoformat()},
            )
        return ErrorReport(None, None, filename)
    return ErrorReport(Path(run.errors_path), run.error_bytes or None, filename)
