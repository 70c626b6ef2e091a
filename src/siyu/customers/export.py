"""Customer list export: the list's filters, as CSV for Excel, audited.

Up to `INLINE_EXPORT_LIMIT` rows stream straight back in the response, a page of the
list at a time, each page read in its own short transaction. A larger export would keep
one request open for minutes, so it runs as a job instead that writes the file into the
data directory, to be downloaded when the job is done.
"""

import codecs
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from siyu.customers import service
from siyu.customers.repository import CustomerFilter, CustomerRepository, Scope
from siyu.customers.schemas import CustomerListItem
from siyu.db.session import session_factory
from siyu.exceptions import NotFound
from siyu.kit.money import fen_to_yuan
from siyu.kit.pagination import MAX_LIMIT
from siyu.kit.time import SHANGHAI, utcnow
from siyu.models import Job
from siyu.worker.context import JobContext
from siyu.worker.queue import enqueue, get_job
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

EXPORT_JOB = "customers.export"
# The list pages at about 4,000 rows/s (bench/analytics_overview.py, 100k customers on
# PostgreSQL): up to 20,000 rows answer within about 5 s, fine for one request.
INLINE_EXPORT_LIMIT = 20_000
AUDIT_ACTION = "customers.export"
EXPORTS_DIR = "exports"
SUCCEEDED = "succeeded"
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "ID"),
    ("name", "姓名"),
    ("mobile", "手机号"),
    ("lifecycle_stage", "阶段"),
    ("source", "来源"),
    ("province", "省份"),
    ("city", "城市"),
    ("gender", "性别"),
    ("order_count", "订单数"),
    ("total_paid_fen", "累计实付(元)"),
    ("last_order_at", "最近下单"),
    ("last_active_at", "最近活跃"),
    ("created_at", "创建时间"),
    ("email", "邮箱"),
    ("remark", "备注"),
)
GENDERS = {"male": "男", "female": "女", "unknown": "未知"}


def _customer_filter(
    session: Session, workspace_id: int, query: service.CustomerQuery
) -> CustomerFilter:
    return CustomerFilter(
        search=service.parse_search(query.q),
        tag_ids=list(dict.fromkeys(query.tag_ids)),
        any_tag_ids=list(dict.fromkeys(query.any_tag_ids)),
        staff_id=query.staff_id,
        stage=query.stage,
        source=query.source,
        custom=service._custom_conditions(session, workspace_id, query.custom),
        created_from=query.created_from,
        created_to=query.created_to,
        last_order_from=query.last_order_from,
        last_order_to=query.last_order_to,
        last_active_from=query.last_active_from,
        last_active_to=query.last_active_to,
    )


def count_matching(session: Session, principal: Principal, query: service.CustomerQuery) -> int:
    """How many customers the principal would see in the list with these filters."""
    repo = CustomerRepository(session)
    matching = repo._scoped(Scope.of(principal)).where(
        *repo._conditions(
            principal.workspace_id, _customer_filter(session, principal.workspace_id, query)
        )
    )
    return session.scalar(select(func.count()).select_from(matching.subquery())) or 0


def _cell(item: CustomerListItem, name: str, zone: ZoneInfo) -> str:
    value: Any = getattr(item, name)
    if value is None:
        return ""
    if name == "total_paid_fen":
        return fen_to_yuan(value)
    if name == "gender":
        return GENDERS.get(value, str(value))
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _encode(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def header_bytes() -> bytes:
    """The CSV's first bytes: a BOM (so Excel reads UTF-8) and the Chinese header row."""
    return codecs.BOM_UTF8 + _encode([[label for _, label in COLUMNS]])


def encode_items(items: Sequence[CustomerListItem], zone: ZoneInfo) -> bytes:
    """CSV lines of customers, in the columns of the customers export."""
    return _encode([[_cell(item, name, zone) for name, _ in COLUMNS] for item in items])


def count_customers(session: Session, principal: Principal, filters: dict[str, Any]) -> int:
    """How many customers the list shows with these filters (validated as the list does)."""
    service.list_customers(session, principal, service.CustomerQuery(**filters, limit=1))
    return count_matching(session, principal, service.CustomerQuery(**filters))


def _filters_json(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters that were set, as JSON values (for the audit log and the job payload)."""
    out: dict[str, Any] = {}
    for name, value in filters.items():
        if value in (None, "", [], {}, ()):
            continue
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _filters_from_json(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for name, value in data.items():
        if name.endswith(("_from", "_to")) and isinstance(value, str):
            out[name] = datetime.fromisoformat(value)
    return out


OpenSession = Callable[[], AbstractContextManager[Session]]


def read_sessions(engine: Engine) -> OpenSession:
    """A new read-only session per page: no transaction stays open while the client reads."""
    return session_factory(engine, write=False)


def csv_chunks(
    sessions: OpenSession, principal: Principal, filters: dict[str, Any]
) -> Iterator[bytes]:
    """The CSV, page by page of the list (masked as the list is for this principal)."""
    for _, chunk in _csv_pages(sessions, principal, filters):
        yield chunk


def _csv_pages(
    sessions: OpenSession, principal: Principal, filters: dict[str, Any]
) -> Iterator[tuple[int, bytes]]:
    """(customers in it, bytes) for the header and then each page of the list."""
    with sessions() as session:
        timezone = workspace_service.get_workspace(session, principal.workspace_id).timezone
    zone = ZoneInfo(timezone)
    yield 0, header_bytes()
    cursor: str | None = None
    while True:
        with sessions() as session:
            page = service.list_customers(
                session, principal, service.CustomerQuery(**filters, cursor=cursor, limit=MAX_LIMIT)
            )
        yield len(page.items), encode_items(page.items, zone)
        cursor = page.next_cursor
        if cursor is None:
            return


def start_export(
    session: Session, principal: Principal, filters: dict[str, Any], *, data_dir: Path
) -> tuple[int, Job | None]:
    """Validate and count; record the export in the audit log; queue a job when it is large.

    Returns the row count and the job (None when the caller streams the CSV itself).
    """
    rows = count_customers(session, principal, filters)
    export_job = None
    if rows > INLINE_EXPORT_LIMIT:
        export_job = enqueue(
            session,
            EXPORT_JOB,
            {
                "filters": _filters_json(filters),
                "exports_dir": str(data_dir / EXPORTS_DIR),
                "role": principal.role.value,
                "staff_id": principal.staff_id,
                "user_id": principal.user_id,
                "api_key_id": principal.api_key_id,
                "rows": rows,
            },
            workspace_id=principal.workspace_id,
        )
    workspace_service.audit(
        session,
        principal,
        AUDIT_ACTION,
        target_type="job" if export_job else None,
        target_id=export_job.id if export_job else None,
        details={"filter": _filters_json(filters), "rows": rows},
    )
    return rows, export_job


def export_path(exports_dir: Path, workspace_id: int, job_id: int) -> Path:
    return exports_dir / f"customers-{workspace_id}-{job_id}.csv"


def run_export(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Write the CSV to the data directory (a retry starts the file over)."""
    assert ctx.workspace_id is not None
    principal = Principal(
        workspace_id=ctx.workspace_id,
        role=Role(payload["role"]),
        staff_id=payload.get("staff_id"),
        user_id=payload.get("user_id"),
        api_key_id=payload.get("api_key_id"),
    )
    path = export_path(Path(payload["exports_dir"]), ctx.workspace_id, ctx.job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    total = payload.get("rows")
    written = 0
    with partial.open("wb") as out:
        pages = _csv_pages(
            lambda: nullcontext(ctx.session), principal, _filters_from_json(payload["filters"])
        )
        for rows, chunk in pages:
            out.write(chunk)
            written += rows
            ctx.progress(written, total)
            ctx.checkpoint()
    partial.replace(path)
    return {"rows": written, "filename": path.name}


def exported_file(session: Session, principal: Principal, data_dir: Path, job_id: int) -> Path:
    """The file a finished export job wrote, for the workspace that asked for it."""
    export_job = get_job(session, job_id, workspace_id=principal.workspace_id)
    path = export_path(data_dir / EXPORTS_DIR, principal.workspace_id, job_id)
    if export_job.name != EXPORT_JOB or export_job.status != SUCCEEDED or not path.exists():
        raise NotFound("export")
    return path


class ExportQueued(BaseModel):
    """A large export runs as a job: follow GET /jobs/{job_id}, then download the file."""

    job_id: int
    rows: int
    download_url: str


def filename() -> str:
    return f"customers-{utcnow().astimezone(SHANGHAI):%Y%m%d-%H%M%S}.csv"


class CustomerCount(BaseModel):
    count: int
