"""Import staff from a CSV/XLSX table: 姓名, 账号(userid), 手机, 邮箱, 部门, 职位.

Rows are keyed by 账号 (the WeCom userid): a known one updates that member, a new one
creates a member. Departments are a path ("华东大区/上海/徐汇店") created as needed.
Each row applies whole or not at all: invalid rows are reported with row and column,
valid rows are applied.
"""

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.exceptions import SiyuError, ValidationFailed
from siyu.kit.tabular import Table, open_table
from siyu.models import Staff
from siyu.staff import service
from siyu.staff.schemas import ImportIssue, ImportRowResult, StaffImportOut, StaffStatus
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

MAX_ROWS = 50_000
NAME, USERID, MOBILE, EMAIL, DEPARTMENT, POSITION = "姓名", "账号", "手机", "邮箱", "部门", "职位"
HEADER_ALIASES = {
    NAME: (NAME, "name"),
    USERID: (USERID, "账号(userid)", "账号（userid）", "userid", "帐号"),
    MOBILE: (MOBILE, "手机号", "mobile"),
    EMAIL: (EMAIL, "email"),
    DEPARTMENT: (DEPARTMENT, "department"),
    POSITION: (POSITION, "position"),
}
REQUIRED = (NAME, USERID)


@dataclass
class _Row:
    number: int
    name: str = ""
    userid: str = ""
    mobile: str | None = None
    email: str | None = None
    department: str | None = None
    position: str | None = None
    errors: list[ImportIssue] = field(default_factory=list)


def _columns(headers: list[str]) -> dict[str, int]:
    """Our column -> its index in the file; a missing required column refuses the file."""
    lowered = [h.strip().lower() for h in headers]
    found: dict[str, int] = {}
    for column, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            if alias.lower() in lowered:
                found[column] = lowered.index(alias.lower())
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise ValidationFailed("file", f"missing column(s): {', '.join(missing)}")
    return found


def _issue(column: str, exc: ValidationFailed) -> ImportIssue:
    return ImportIssue(column=column, message=exc.message.removeprefix(f"{exc.field}: "))


def _parse(number: int, cells: list[str], columns: dict[str, int]) -> _Row:
    def cell(column: str) -> str:
        index = columns.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    row = _Row(number, name=cell(NAME), userid=cell(USERID))
    if not row.name:
        row.errors.append(ImportIssue(column=NAME, message="required"))
    elif len(row.name) > service.NAME_MAX_LENGTH:
        row.errors.append(ImportIssue(column=NAME, message="at most 100 characters"))
    if not row.userid:
        row.errors.append(ImportIssue(column=USERID, message="required"))
    elif len(row.userid) > 64:
        row.errors.append(ImportIssue(column=USERID, message="at most 64 characters"))
    try:
        row.mobile = service.normalize_mobile(cell(MOBILE))
    except ValidationFailed as exc:
        row.errors.append(_issue(MOBILE, exc))
    try:
        row.email = service.normalize_email(cell(EMAIL))
    except ValidationFailed as exc:
        row.errors.append(_issue(EMAIL, exc))
    if department := cell(DEPARTMENT):
        try:
            service.split_department_path(department)
        except ValidationFailed as exc:
            row.errors.append(_issue(DEPARTMENT, exc))
        row.department = department
    position = cell(POSITION)
    if len(position) > service.NAME_MAX_LENGTH:
        row.errors.append(ImportIssue(column=POSITION, message="at most 100 characters"))
    row.position = position or None
    return row


def _apply(session: Session, workspace_id: int, row: _Row) -> tuple[Staff, bool, int]:
    """Create or update the member of this row; returns it, whether it is new, and how many
    departments were created for it."""
    department_id, created_departments = None, 0
    if row.department:
        department, created_departments = service.ensure_department_path(
            session, workspace_id, row.department
        )
        department_id = department.id
    staff = service.staff_by_userid(session, workspace_id, row.userid)
    is_new = staff is None
    if staff is None:
        staff = Staff(workspace_id=workspace_id, wecom_userid=row.userid, status=StaffStatus.ACTIVE)
        session.add(staff)
    staff.name = row.name
    # Blank optional cells keep what the member already has.
    staff.mobile = row.mobile or staff.mobile
    staff.email = row.email or staff.email
    staff.position = row.position or staff.position
    staff.department_id = department_id or staff.department_id
    session.flush()
    return staff, is_new, created_departments


def import_staff_file(session: Session, principal: Principal, path: Path) -> StaffImportOut:
    """Import an uploaded file into the principal's workspace, recorded in the audit log."""
    result = import_staff(session, principal.workspace_id, open_table(path))
    workspace_service.audit(
        session,
        principal,
        "staff.import",
        target_type="staff",
        details=result.model_dump(include={"created", "updated", "failed"}),
    )
    return result


def import_staff(session: Session, workspace_id: int, table: Table) -> StaffImportOut:
    columns = _columns(table.headers)
    results: list[ImportRowResult] = []
    first_row_of: dict[str, int] = {}
    created = updated = departments_created = 0
    for count, (number, cells) in enumerate(table.iter_numbered(), start=1):
        if count > MAX_ROWS:
            raise ValidationFailed("file", f"at most {MAX_ROWS} rows per import")
        row = _parse(number, cells, columns)
        if row.userid and not row.errors:
            earlier = first_row_of.setdefault(row.userid, number)
            if earlier != number:
                row.errors.append(ImportIssue(column=USERID, message=f"same 账号 as row {earlier}"))
        if row.errors:
            results.append(ImportRowResult(row=number, status="failed", errors=row.errors))
            continue
        try:
            with session.begin_nested():
                staff, is_new, new_departments = _apply(session, workspace_id, row)
        except (IntegrityError, SiyuError) as exc:
            message = getattr(exc, "message", None) or "conflicts with existing data"
            issue = ImportIssue(column=USERID, message=message)
            results.append(ImportRowResult(row=number, status="failed", errors=[issue]))
            continue
        created += is_new
        updated += not is_new
        departments_created += new_departments
        results.append(
            ImportRowResult(
                row=number, status="created" if is_new else "updated", staff_id=staff.id
            )
        )
    return StaffImportOut(
        created=created,
        updated=updated,
        failed=sum(r.status == "failed" for r in results),
        departments_created=departments_created,
        rows=results,
    )
