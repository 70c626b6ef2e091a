import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from siyu.db.dependencies import DbSession
from siyu.exceptions import PayloadTooLarge
from siyu.kit.pagination import PageOut
from siyu.staff import importing, service
from siyu.staff.schemas import (
    DepartmentIn,
    DepartmentNode,
    DepartmentOut,
    DepartmentPatch,
    StaffImportOut,
    StaffIn,
    StaffListItem,
    StaffOut,
    StaffPatch,
    StaffStatus,
)
from siyu.workspace.dependencies import Operator, Viewer

router = APIRouter(tags=["staff"])

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_CHUNK = 1024 * 1024


@router.get("/departments", response_model=list[DepartmentNode])
def department_tree(session: DbSession, principal: Viewer) -> list[DepartmentNode]:
    """All departments as a nested tree, each with the number of staff directly in it."""
    return service.department_tree(session, principal.workspace_id)


@router.post("/departments", response_model=DepartmentOut, status_code=201)
def create_department(body: DepartmentIn, session: DbSession, principal: Operator) -> DepartmentOut:
    department = service.create_department(session, principal.workspace_id, body)
    return DepartmentOut.model_validate(department)


@router.get("/departments/{department_id}", response_model=DepartmentOut)
def read_department(department_id: int, session: DbSession, principal: Viewer) -> DepartmentOut:
    department = service.get_department(session, principal.workspace_id, department_id)
    return DepartmentOut.model_validate(department)


@router.patch("/departments/{department_id}", response_model=DepartmentOut)
def update_department(
    department_id: int, body: DepartmentPatch, session: DbSession, principal: Operator
) -> DepartmentOut:
    department = service.update_department(session, principal.workspace_id, department_id, body)
    return DepartmentOut.model_validate(department)


@router.delete("/departments/{department_id}", status_code=204)
def delete_department(department_id: int, session: DbSession, principal: Operator) -> None:
    """Delete an empty department (no sub-departments, no staff)."""
    service.delete_department(session, principal, department_id)


@router.get("/staff", response_model=PageOut[StaffListItem])
def list_staff(
    session: DbSession,
    principal: Viewer,
    department_id: Annotated[
        int | None, Query(description="this department and its sub-departments")
    ] = None,
    status: StaffStatus | None = None,
    q: Annotated[str | None, Query(description="name, userid or mobile prefix")] = None,
    sort: Annotated[
        str | None, Query(description="id, name or created_at; -x for descending")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[StaffListItem]:
    return service.list_staff(
        session,
        principal.workspace_id,
        department_id=department_id,
        status=status,
        q=q,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )


@router.post("/staff", response_model=StaffOut, status_code=201)
def create_staff(body: StaffIn, session: DbSession, principal: Operator) -> StaffOut:
    return StaffOut.model_validate(service.create_staff(session, principal.workspace_id, body))


@router.post("/staff/import", response_model=StaffImportOut)
def import_staff(
    file: Annotated[UploadFile, File(description="CSV or XLSX: 姓名,账号,手机,邮箱,部门,职位")],
    session: DbSession,
    principal: Operator,
) -> StaffImportOut:
    """Create or update staff by 账号 (userid); every row is reported, invalid ones with
    their row and column, and only whole valid rows are applied."""
    suffix = Path(file.filename or "").suffix.lower() or ".csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        size = 0
        with path.open("wb") as handle:
            while chunk := file.file.read(UPLOAD_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise PayloadTooLarge(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
                handle.write(chunk)
        return importing.import_staff_file(session, principal, path)


@router.get("/staff/{staff_id}", response_model=StaffOut)
def read_staff(staff_id: int, session: DbSession, principal: Viewer) -> StaffOut:
    return StaffOut.model_validate(service.get_staff(session, principal.workspace_id, staff_id))


@router.patch("/staff/{staff_id}", response_model=StaffOut)
def update_staff(
    staff_id: int, body: StaffPatch, session: DbSession, principal: Operator
) -> StaffOut:
    staff = service.update_staff(session, principal.workspace_id, staff_id, body)
    return StaffOut.model_validate(staff)


@router.delete("/staff/{staff_id}", status_code=204)
def delete_staff(staff_id: int, session: DbSession, principal: Operator) -> None:
    """Delete a staff member entered by mistake; one who follows customers is refused."""
    service.delete_staff(session, principal, staff_id)
