"""Departments and staff members (WeCom members; sync fills them later, API/CLI/CSV now)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

import siyu.customers.service as customers_service
from siyu.customers import follow
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import PageOut, SortSpec, paginate
from siyu.models import Department, Staff
from siyu.staff.repository import StaffRepository
from siyu.staff.schemas import (
    DepartmentIn,
    DepartmentNode,
    DepartmentPatch,
    StaffIn,
    StaffListItem,
    StaffOut,
    StaffPatch,
    StaffStatus,
)
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

STAFF_SORTS = ("id", "name", "created_at")
PATH_SEPARATOR = "/"
NAME_MAX_LENGTH = 100


# -- field rules (shared with the CSV import) ---------------------------------------


def normalize_mobile(value: str | None, *, field: str = "mobile") -> str | None:
    """A phone number as E.164 (+8613800138000); mainland numbers may omit +86."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(field, f"not a phone number: {text!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(field, f"not a valid phone number: {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str | None, *, field: str = "email") -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(field, str(exc)) from exc


def split_department_path(path: str, *, field: str = "department") -> list[str]:
    """ "华东大区/上海/徐汇店" -> its names from the top; empty segments are refused."""
    names = [name.strip() for name in path.strip().strip(PATH_SEPARATOR).split(PATH_SEPARATOR)]
    if not path.strip() or any(not name for name in names):
        raise ValidationFailed(field, f"not a department path: {path!r}")
    if any(len(name) > NAME_MAX_LENGTH for name in names):
        raise ValidationFailed(field, f"department names are at most {NAME_MAX_LENGTH} characters")
    return names


# -- departments --------------------------------------------------------------------


def get_department(
    session: Session, workspace_id: int, department_id: int, *, field: str = "department_id"
) -> Department:
    department = StaffRepository(session, workspace_id).department(department_id)
    if department is None:
        raise NotFound("department", {"field": field})
    return department


def _check_sibling_name(
    repo: StaffRepository, parent_id: int | None, name: str, *, own_id: int | None = None
) -> None:
    existing = repo.child_named(parent_id, name)
    if existing is not None and existing.id != own_id:
        raise Conflict(f"department {name!r} already exists there", {"field": "name"})


def create_department(session: Session, workspace_id: int, data: DepartmentIn) -> Department:
    repo = StaffRepository(session, workspace_id)
    if data.parent_id is not None:
        get_department(session, workspace_id, data.parent_id, field="parent_id")
    name = data.name.strip()
    _check_sibling_name(repo, data.parent_id, name)
    if data.manager_staff_id is not None:
        _require_manager(session, workspace_id, data.manager_staff_id)
    department = Department(
        workspace_id=workspace_id,
        name=name,
        parent_id=data.parent_id,
        sort_order=(
            repo.next_department_order(data.parent_id)
            if data.sort_order is None
            else data.sort_order
        ),
        manager_staff_id=data.manager_staff_id,
    )
    session.add(department)
    session.flush()
    return department


def update_department(
    session: Session, workspace_id: int, department_id: int, data: DepartmentPatch
) -> Department:
    repo = StaffRepository(session, workspace_id)
    department = get_department(session, workspace_id, department_id)
    parent_id = department.parent_id
    if "parent_id" in data.model_fields_set and data.parent_id != department.parent_id:
        parent_id = data.parent_id
        if parent_id is not None:
            get_department(session, workspace_id, parent_id, field="parent_id")
            _refuse_cycle(repo, department.id, parent_id)
    name = department.name if data.name is None else data.name.strip()
    _check_sibling_name(repo, parent_id, name, own_id=department.id)
    department.name = name
    department.parent_id = parent_id
    if data.sort_order is not None:
        department.sort_order = data.sort_order
    if "manager_staff_id" in data.model_fields_set:
        if data.manager_staff_id is not None:
            _require_manager(session, workspace_id, data.manager_staff_id)
        department.manager_staff_id = data.manager_staff_id
    session.flush()
    return department


def _require_manager(session: Session, workspace_id: int, staff_id: int) -> None:
    if StaffRepository(session, workspace_id).staff(staff_id) is None:
        raise NotFound("staff member", {"field": "manager_staff_id"})


def _refuse_cycle(repo: StaffRepository, department_id: int, new_parent_id: int) -> None:
    """Walk up from the new parent; meeting the department itself would close a cycle."""
    seen: set[int] = set()
    current: int | None = new_parent_id
    while current is not None and current not in seen:
        if current == department_id:
            raise ValidationFailed(
                "parent_id", "a department cannot move under itself or one of its descendants"
            )
        seen.add(current)
        current = repo.parent_of(current)


def delete_department(session: Session, principal: Principal, department_id: int) -> None:
    """Delete an empty department (no sub-departments, no staff)."""
    repo = StaffRepository(session, principal.workspace_id)
    department = get_department(session, principal.workspace_id, department_id)
    if repo.has_children(department.id):
        raise Conflict("the department has sub-departments; move or delete them first")
    if repo.has_staff(department.id):
        raise Conflict("the department has staff members; move them first")
    session.delete(department)
    session.flush()
    workspace_service.audit(
        session,
        principal,
        "department.delete",
        target_type="department",
        target_id=department_id,
        details={"name": department.name},
    )


def department_tree(session: Session, workspace_id: int) -> list[DepartmentNode]:
    """All departments as a nested tree, each with its own staff count and its manager's
    name (three queries)."""
    repo = StaffRepository(session, workspace_id)
    counts = repo.staff_counts()
    departments = repo.departments()
    managers = repo.staff_names([d.manager_staff_id for d in departments if d.manager_staff_id])
    nodes = {
        d.id: DepartmentNode.model_validate(d).model_copy(
            update={
                "staff_count": counts.get(d.id, 0),
                "manager_name": managers.get(d.manager_staff_id or 0),
                "children": [],
            }
        )
        for d in departments
    }
    roots: list[DepartmentNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


def department_subtree_ids(session: Session, workspace_id: int, department_id: int) -> list[int]:
    """The department's id and those of all departments below it."""
    get_department(session, workspace_id, department_id)
    return StaffRepository(session, workspace_id).subtree_ids(department_id)


def ensure_department_path(
    session: Session, workspace_id: int, path: str, *, field: str = "department"
) -> tuple[Department, int]:
    """The department at "华东大区/上海/徐汇店", creating missing levels; returns it and how
    many departments were created."""
    repo = StaffRepository(session, workspace_id)
    parent: Department | None = None
    created = 0
    for name in split_department_path(path, field=field):
        parent_id = None if parent is None else parent.id
        department = repo.child_named(parent_id, name)
        if department is None:
            department = Department(
                workspace_id=workspace_id,
                name=name,
                parent_id=parent_id,
                sort_order=repo.next_department_order(parent_id),
            )
            session.add(department)
            session.flush()
            created += 1
        parent = department
    assert parent is not None
    return parent, created


# -- staff --------------------------------------------------------------------------


def get_staff(session: Session, workspace_id: int, staff_id: int) -> Staff:
    staff = StaffRepository(session, workspace_id).staff(staff_id)
    if staff is None:
        raise NotFound("staff member")
    return staff


def staff_names(session: Session, workspace_id: int, ids: Sequence[int]) -> dict[int, str]:
    return StaffRepository(session, workspace_id).staff_names(ids)


def staff_by_userid(session: Session, workspace_id: int, userid: str) -> Staff | None:
    return StaffRepository(session, workspace_id).staff_by_userid(userid)


def _check_userid(repo: StaffRepository, userid: str | None, *, own_id: int | None) -> None:
    if userid is None:
        return
    existing = repo.staff_by_userid(userid)
    if existing is not None and existing.id != own_id:
        raise Conflict(
            f"a staff member with userid {userid!r} already exists",
            {"field": "wecom_userid", "id": existing.id},
        )


def create_staff(session: Session, workspace_id: int, data: StaffIn) -> Staff:
    repo = StaffRepository(session, workspace_id)
    if data.department_id is not None:
        get_department(session, workspace_id, data.department_id)
    userid = data.wecom_userid.strip() if data.wecom_userid else None
    _check_userid(repo, userid, own_id=None)
    staff = Staff(
        workspace_id=workspace_id,
        name=data.name.strip(),
        wecom_userid=userid,
        mobile=normalize_mobile(data.mobile),
        email=normalize_email(data.email),
        position=(data.position or "").strip() or None,
        department_id=data.department_id,
        status=data.status.value,
    )
    session.add(staff)
    session.flush()
    return staff


def update_staff(session: Session, workspace_id: int, staff_id: int, data: StaffPatch) -> Staff:
    repo = StaffRepository(session, workspace_id)
    staff = get_staff(session, workspace_id, staff_id)
    sent = data.model_fields_set
    if "name" in sent:
        if data.name is None:
            raise ValidationFailed("name", "must not be empty")
        staff.name = data.name.strip()
    if "wecom_userid" in sent:
        userid = data.wecom_userid.strip() if data.wecom_userid else None
        _check_userid(repo, userid, own_id=staff.id)
        staff.wecom_userid = userid
    if "mobile" in sent:
        staff.mobile = normalize_mobile(data.mobile)
    if "email" in sent:
        staff.email = normalize_email(data.email)
    if "position" in sent:
        staff.position = (data.position or "").strip() or None
    if "department_id" in sent:
        if data.department_id is not None:
            get_department(session, workspace_id, data.department_id)
        staff.department_id = data.department_id
    if "status" in sent:
        if data.status is None:
            raise ValidationFailed("status", "must not be empty")
        staff.status = data.status.value
    session.flush()
    return staff


def delete_staff(session: Session, principal: Principal, staff_id: int) -> None:
    """Delete a staff member entered by mistake; one who follows customers is refused."""
    staff = get_staff(session, principal.workspace_id, staff_id)
    followed = customers_service.list_customers(
        session,
        Principal.system(principal.workspace_id),
        customers_service.CustomerQuery(staff_id=staff.id, limit=1),
    )
    if followed.items:
        raise Conflict(
            "the staff member follows customers; hand them over or mark the member resigned"
        )
    StaffRepository(session, principal.workspace_id).clear_manager(staff.id)
    session.delete(staff)
    session.flush()
    workspace_service.audit(
        session,
        principal,
        "staff.delete",
        target_type="staff",
        target_id=staff_id,
        details={"name": staff.name, "wecom_userid": staff.wecom_userid},
    )


def list_staff(
    session: Session,
    workspace_id: int,
    *,
    department_id: int | None = None,
    status: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[StaffListItem]:
    """Staff, filtered by department (with its sub-departments), status and a name,
    userid or mobile prefix, one keyset page at a time, each with their customer count."""
    repo = StaffRepository(session, workspace_id)
    department_ids = (
        None
        if department_id is None
        else department_subtree_ids(session, workspace_id, department_id)
    )
    stmt, page = paginate(
        repo.staff_query(department_ids=department_ids, status=status, q=(q or "").strip()),
        columns={
            "id": Staff.id.expression,
            "name": Staff.name.expression,
            "created_at": Staff.created_at.expression,
        },
        id_column=Staff.id.expression,
        sort=SortSpec.parse(sort, STAFF_SORTS, "id"),
        cursor=cursor,
        limit=limit,
    )
    items, next_cursor = page.build(list(session.scalars(stmt)))
    counts = follow.followed_counts(session, workspace_id, [s.id for s in items])
    return PageOut(
        items=[
            StaffListItem.model_validate(
                {**StaffOut.model_validate(s).model_dump(), "customer_count": counts.get(s.id, 0)}
            )
            for s in items
        ],
        next_cursor=next_cursor,
    )


# -- WeCom directory (the sync mirrors departments and members; connectors/wecom/sync.py) ---


@dataclass(frozen=True)
class WecomDepartmentRecord:
    wecom_id: int
    name: str
    parent_wecom_id: int
    order: int = 0


@dataclass(frozen=True)
class WecomMemberRecord:
    userid: str
    name: str
    department_wecom_id: int | None
    position: str | None = None
    mobile: str | None = None
    email: str | None = None
    status: StaffStatus = StaffStatus.ACTIVE


# WeCom member status → ours (1 active, 2 disabled, 4 not activated, 5 resigned).
WECOM_MEMBER_STATUS = {
    1: StaffStatus.ACTIVE,
    2: StaffStatus.DISABLED,
    4: StaffStatus.INACTIVE,
    5: StaffStatus.RESIGNED,
}


def _wecom_departments(session: Session, workspace_id: int) -> dict[int, Department]:
    rows = session.scalars(
        select(Department).where(
            Department.workspace_id == workspace_id, Department.wecom_id.is_not(None)
        )
    )
    return {int(d.wecom_id): d for d in rows if d.wecom_id is not None}


def sync_wecom_departments(
    session: Session, workspace_id: int, records: Sequence[WecomDepartmentRecord]
) -> dict[str, int]:
    """Upsert departments by WeCom id (names, order, parents); two flushes for the lot.

    Departments are never deleted here (staff point at them); see `delete_wecom_department`.
    """
    counts = {"created": 0, "updated": 0}
    existing = _wecom_departments(session, workspace_id)
    for record in records:
        department = existing.get(record.wecom_id)
        if department is None:
            department = Department(
                workspace_id=workspace_id, wecom_id=record.wecom_id, name=record.name
            )
            session.add(department)
            existing[record.wecom_id] = department
            counts["created"] += 1
        elif (department.name, department.sort_order) != (record.name, record.order):
            counts["updated"] += 1
        department.name = record.name[:NAME_MAX_LENGTH]
        department.sort_order = record.order
    session.flush()
    for record in records:
        parent = existing.get(record.parent_wecom_id)
        existing[record.wecom_id].parent_id = parent.id if parent is not None else None
    session.flush()
    return counts


def delete_wecom_department(session: Session, workspace_id: int, wecom_id: int) -> bool:
    """Remove a department WeCom deleted; its staff and sub-departments lose the link."""
    department = _wecom_departments(session, workspace_id).get(wecom_id)
    if department is None:
        return False
    session.delete(department)
    session.flush()
    return True


def sync_wecom_members(
    session: Session,
    workspace_id: int,
    records: Sequence[WecomMemberRecord],
    *,
    complete: bool,
) -> dict[str, int]:
    """Upsert staff by WeCom userid in one query and one flush. With `complete` (the whole
    directory was read), staff with a userid WeCom no longer lists are marked resigned."""
    counts = {"created": 0, "updated": 0, "resigned": 0}
    departments = _wecom_departments(session, workspace_id)
    existing = {
        s.wecom_userid: s
        for s in session.scalars(
            select(Staff).where(Staff.workspace_id == workspace_id, Staff.wecom_userid.is_not(None))
        )
    }
    for record in records:
        staff = existing.get(record.userid)
        if staff is None:
            staff = Staff(workspace_id=workspace_id, wecom_userid=record.userid, name=record.name)
            session.add(staff)
            existing[record.userid] = staff
            counts["created"] += 1
        department = departments.get(record.department_wecom_id or 0)
        values = {
            "name": record.name[:NAME_MAX_LENGTH] or record.userid,
            "position": record.position or None,
            "mobile": record.mobile or staff.mobile,
            "email": record.email or staff.email,
            "department_id": department.id if department is not None else None,
            "status": record.status.value,
        }
        if staff.id is not None and any(getattr(staff, k) != v for k, v in values.items()):
            counts["updated"] += 1
        for key, value in values.items():
            setattr(staff, key, value)
    if complete:
        listed = {record.userid for record in records}
        for userid, staff in existing.items():
            if userid not in listed and staff.status != StaffStatus.RESIGNED:
                staff.status = StaffStatus.RESIGNED.value
                counts["resigned"] += 1
    session.flush()
    return counts


def mark_wecom_member_resigned(session: Session, workspace_id: int, userid: str) -> Staff | None:
    staff = staff_by_userid(session, workspace_id, userid)
    if staff is not None:
        staff.status = StaffStatus.RESIGNED.value
        session.flush()
    return staff


def staff_ids_by_userid(
    session: Session, workspace_id: int, userids: Iterable[str]
) -> dict[str, int]:
    """WeCom userid -> staff id, for the userids Siyu knows (one query)."""
    wanted = set(userids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Staff.wecom_userid, Staff.id).where(
            Staff.workspace_id == workspace_id, Staff.wecom_userid.in_(wanted)
        )
    )
    return {str(userid): staff_id for userid, staff_id in rows}
