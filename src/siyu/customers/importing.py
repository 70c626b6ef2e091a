"""Customer import: a CSV or XLSX of people, each row resolved through OneID.

A row is applied whole or not at all: it is checked column by column first, then written
inside a savepoint. Rows that fail go to the run's error file as (row, column, reason).
The run commits chunk by chunk with its resume point, so a retried job continues after
the last committed chunk. An existing customer keeps its profile; only empty fields fill.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from siyu.customers import custom_fields, identities
from siyu.customers.identities import IdentityKind
from siyu.customers.schemas import CustomerCreate, Gender, IdentityIn
from siyu.customers.service import create_customer
from siyu.exceptions import NotFound, SiyuError, ValidationFailed
from siyu.kit.import_runs import outcome
from siyu.kit.tabular import ErrorFile, RowError, Table, open_table
from siyu.kit.time import utcnow
from siyu.kit.uploads import store_upload
from siyu.models import CustomField, ImportRun
from siyu.tags import service as tags_service
from siyu.worker.queue import enqueue
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

KIND = "customers"
IMPORT_JOB = "customers.import"
DEFAULT_CHUNK_ROWS = 1000
MAX_IMPORT_BYTES = 1 << 30
DEFAULT_TAG_GROUP = "导入标签"
MAX_TAG_NAME = 100
TAG_SEPARATORS = re.compile(r"[,，、;；]")

Progress = Callable[[int, int | None], None]
Checkpoint = Callable[[], None]

# Profile columns: accepted headers (compared case-insensitively) -> field.
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "客户姓名", "name"),
    "mobile": ("手机号", "手机", "手机号码", "mobile", "phone"),
    "email": ("邮箱", "电子邮箱", "email"),
    "gender": ("性别", "gender"),
    "birthday": ("生日", "出生日期", "birthday"),
    "province": ("省份", "省", "province"),
    "city": ("城市", "市", "city"),
    "source": ("来源", "source"),
    "remark": ("备注", "remark"),
    "tags": ("标签", "tags"),
    "store_member_no": ("会员号", "会员卡号", "member_no", "store_member_no"),
    "unionid": ("unionid", "wechat_unionid"),
}
IDENTITY_COLUMNS = {
    "mobile": IdentityKind.MOBILE,
    "email": IdentityKind.EMAIL,
    "store_member_no": IdentityKind.STORE_MEMBER_NO,
    "unionid": IdentityKind.WECHAT_UNIONID,
}
GENDERS = {
    "男": Gender.MALE,
    "male": Gender.MALE,
    "m": Gender.MALE,
    "女": Gender.FEMALE,
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
    "未知": Gender.UNKNOWN,
    "unknown": Gender.UNKNOWN,
}


@dataclass(frozen=True)
class ColumnMap:
    """Where each known field sits in the file, by position."""

    fields: dict[str, int]
    custom: dict[str, int]  # custom field key -> position
    headers: list[str]
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, headers: list[str], definitions: Mapping[str, CustomField]) -> "ColumnMap":
        by_header = {alias.lower(): name for name, aliases in HEADERS.items() for alias in aliases}
        by_label = {d.label: key for key, d in definitions.items()} | {k: k for k in definitions}
        fields: dict[str, int] = {}
        custom: dict[str, int] = {}
        ignored: list[str] = []
        for position, header in enumerate(headers):
            name = by_header.get(header.lower())
            if name is not None and name not in fields:
                fields[name] = position
            elif header in by_label and by_label[header] not in custom:
                custom[by_label[header]] = position
            elif header:
                ignored.append(header)
        if not set(fields) & set(IDENTITY_COLUMNS):
            raise ValidationFailed(
                "file",
                "the file needs a column that identifies people: 手机号, 邮箱, 会员号 or unionid",
            )
        return cls(fields, custom, headers, ignored)

    def header_of(self, name: str) -> str:
        return self.headers[self.fields[name]]


def create_customer_import(
    session: Session,
    principal: Principal,
    path: Path,
    *,
    filename: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ImportRun:
    """Check the file's columns and queue its import; the job commits with the caller."""
    table = open_table(path)
    columns = ColumnMap.build(
        table.headers, custom_fields.definitions(session, principal.workspace_id)
    )
    run = ImportRun(
        workspace_id=principal.workspace_id,
        kind=KIND,
        filename=filename[:300],
        stored_path=str(path.resolve()),
        encoding=table.encoding or table.format,
        mapping={"fields": columns.fields, "custom": columns.custom, "ignored": columns.ignored},
        status="queued",
        total_rows=table.estimate_rows(),
        created_by=principal.actor,
    )
    session.add(run)
    session.flush()
    job = enqueue(
        session,
        IMPORT_JOB,
        {"import_run_id": run.id, "chunk_rows": chunk_rows},
        workspace_id=principal.workspace_id,
        dedupe_key=f"import-run:{run.id}",
    )
    run.job_id = job.id
    return run


def upload_customer_import(
    session: Session,
    principal: Principal,
    *,
    filename: str,
    stream: BinaryIO,
    data_dir: Path,
    max_bytes: int = MAX_IMPORT_BYTES,
) -> ImportRun:
    """Store an uploaded file under data_dir/imports/<workspace>/ and queue its import."""
    slug = workspace_service.get_workspace(session, principal.workspace_id).slug
    path = store_upload(data_dir / "imports" / slug, filename, stream, max_bytes=max_bytes)
    try:
        run = create_customer_import(session, principal, path, filename=filename)
    except SiyuError:
        path.unlink(missing_ok=True)
        raise
    workspace_service.audit(
        session, principal, "customers.import", target_type="import_run", target_id=run.id
    )
    return run


@dataclass
class ParsedRow:
    data: CustomerCreate
    tags: list[tuple[str, str]]


class RowReader:
    """Turns one row into a customer to resolve, or the errors naming its columns."""

    def __init__(self, columns: ColumnMap, definitions: Mapping[str, CustomField]) -> None:
        self.columns = columns
        self.definitions = definitions

    def _cell(self, row: list[str], name: str) -> str:
        position = self.columns.fields.get(name)
        if position is None or position >= len(row):
            return ""
        return row[position].strip()

    def parse(self, number: int, row: list[str]) -> tuple[ParsedRow | None, list[RowError]]:
        errors: list[RowError] = []
        profile: dict[str, Any] = {}
        refs: list[IdentityIn] = []

        def check(name: str, convert: Callable[[str], Any]) -> None:
            text = self._cell(row, name)
            if not text:
                return
            try:
                profile[name] = convert(text)
            except ValidationFailed as exc:
                reason = exc.message.partition(": ")[2] or exc.message
                errors.append(RowError(number, self.columns.header_of(name), reason))

        for name, convert in CONVERTERS.items():
            check(name, convert)
        for name in ("store_member_no", "unionid"):
            if name in profile:
                refs.append(IdentityIn(kind=IDENTITY_COLUMNS[name], value=profile.pop(name)))
        values: dict[str, Any] = {}
        for key, position in self.columns.custom.items():
            text = row[position].strip() if position < len(row) else ""
            if not text:
                continue
            try:
                values[key] = custom_fields.coerce_value(self.definitions[key], text, name=key)
            except ValidationFailed as exc:
                reason = exc.message.partition(": ")[2] or exc.message
                errors.append(RowError(number, self.columns.headers[position], reason))
        tags: list[tuple[str, str]] = []
        try:
            tags = _tags(self._cell(row, "tags"))
        except ValidationFailed as exc:
            errors.append(RowError(number, self.columns.header_of("tags"), exc.message))
        if not errors and not refs and not profile.get("mobile") and not profile.get("email"):
            errors.append(
                RowError(number, "", "no 手机号, 邮箱, 会员号 or unionid to identify the person")
            )
        if errors:
            return None, errors
        profile.setdefault("source", "import")
        if values:
            profile["custom_fields"] = values
        return ParsedRow(CustomerCreate(**profile, identities=refs), tags), []


def _identity_value(kind: str, text: str) -> str:
    return identities.normalize(kind, text).value


def _text(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValidationFailed("value", f"at most {limit} characters")
    return text


def _gender(text: str) -> Gender:
    gender = GENDERS.get(text.lower())
    if gender is None:
        raise ValidationFailed("gender", "use 男 or 女")
    return gender


def _birthday(text: str) -> date:
    return custom_fields.parse_date(text, "birthday")


# Each profile column's check and conversion of its cell text.
CONVERTERS: dict[str, Callable[[str], Any]] = {
    **{name: partial(_identity_value, kind) for name, kind in IDENTITY_COLUMNS.items()},
    "gender": _gender,
    "birthday": _birthday,
    "name": partial(_text, limit=100),
    "province": partial(_text, limit=32),
    "city": partial(_text, limit=32),
    "remark": partial(_text, limit=500),
    "source": partial(_text, limit=64),
}


def _tags(text: str) -> list[tuple[str, str]]:
    tags: list[tuple[str, str]] = []
    for item in TAG_SEPARATORS.split(text):
        group, colon, name = item.strip().replace("：", ":").partition(":")
        pair = (group.strip(), name.strip()) if colon else (DEFAULT_TAG_GROUP, group.strip())
        if not pair[1] or pair in tags:
            continue
        if max(len(pair[0]), len(pair[1])) > MAX_TAG_NAME:
            raise ValidationFailed("tags", f"tag and group names are at most {MAX_TAG_NAME} long")
        tags.append(pair)
    return tags


def _import_run(session: Session, workspace_id: int, import_id: int) -> ImportRun:
    run = session.scalar(
        select(ImportRun).where(
            ImportRun.workspace_id == workspace_id,
            ImportRun.id == import_id,
            ImportRun.kind == KIND,
        )
    )
    if run is None:
        raise NotFound("customer import")
    return run


def run_customer_import(
    session: Session,
    workspace_id: int,
    import_id: int,
    *,
    progress: Progress,
    checkpoint: Checkpoint,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> dict[str, Any]:
    """Import (or resume importing) one customer file; returns the final counts."""
    run = _import_run(session, workspace_id, import_id)
    if run.status not in {"succeeded", "failed"}:
        try:
            _import(session, run, progress=progress, checkpoint=checkpoint, chunk_rows=chunk_rows)
        except SiyuError as exc:
            session.rollback()
            run = _import_run(session, workspace_id, import_id)
            run.status = "failed"
            run.message = exc.message[:1000]
            run.finished_at = utcnow()
    return outcome(run)


def _import(
    session: Session,
    run: ImportRun,
    *,
    progress: Progress,
    checkpoint: Checkpoint,
    chunk_rows: int,
) -> None:
    table: Table = open_table(run.stored_path)
    definitions = custom_fields.definitions(session, run.workspace_id)
    reader = RowReader(ColumnMap.build(table.headers, definitions), definitions)
    run.status = "running"
    errors_path = Path(f"{run.stored_path}.errors.csv")
    run.errors_path = str(errors_path)
    actor = run.created_by or "system"
    source = f"import:{run.id}"
    with ErrorFile.open(errors_path, keep=run.error_bytes) as error_file:
        pending = 0
        for number, row in table.iter_numbered(skip=run.processed_rows):
            error_file.write(_apply_row(session, run, reader, number, row, source, actor))
            pending += 1
            run.processed_rows = number - table.header_row
            if pending >= chunk_rows:
                run.error_bytes = error_file.size
                progress(run.processed_rows, max(run.total_rows, run.processed_rows))
                checkpoint()
                pending = 0
        run.error_bytes = error_file.size
    run.status = "succeeded"
    run.total_rows = run.processed_rows
    run.finished_at = utcnow()
    run.message = None
    progress(run.processed_rows, run.total_rows)


def _apply_row(
    session: Session,
    run: ImportRun,
    reader: RowReader,
    number: int,
    row: list[str],
    source: str,
    actor: str,
) -> list[RowError]:
    parsed, errors = reader.parse(number, row)
    if parsed is None:
        run.failed += 1
        return errors
    try:
        with session.begin_nested():
            _, result = create_customer(
                session, run.workspace_id, parsed.data, source=source, actor=actor
            )
            if parsed.tags:
                ids = tags_service.ensure_tags(session, run.workspace_id, parsed.tags)
                tags_service.add_tags(
                    session,
                    run.workspace_id,
                    [result.customer.id],
                    list(dict.fromkeys(ids.values())),
                    source="import",
                    actor=actor,
                )
    except (SiyuError, IntegrityError, DataError) as exc:
        run.failed += 1
        reason = exc.message if isinstance(exc, SiyuError) else str(exc.orig).splitlines()[0]
        return [RowError(number, "", reason)]
    if result.created:
        run.imported += 1
    else:
        run.updated += 1
    return []
