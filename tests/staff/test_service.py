import pytest
from sqlalchemy.orm import Session

from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.staff import service
from siyu.staff.schemas import DepartmentIn, DepartmentPatch, StaffIn, StaffPatch
from siyu.workspace.principal import Principal
from tests.conftest import MakeWorkspace, WorkspaceFixture


def _department(db: Session, workspace_id: int, name: str, parent_id: int | None = None) -> int:
    return service.create_department(
        db, workspace_id, DepartmentIn(name=name, parent_id=parent_id)
    ).id


def test_moving_a_department_under_itself_or_a_descendant_is_refused(
    db: Session, workspace: WorkspaceFixture
) -> None:
    east = _department(db, workspace.id, "华东大区")
    shanghai = _department(db, workspace.id, "上海", east)
    xuhui = _department(db, workspace.id, "徐汇店", shanghai)

    for new_parent in (east, shanghai, xuhui):
        with pytest.raises(ValidationFailed) as raised:
            service.update_department(db, workspace.id, east, DepartmentPatch(parent_id=new_parent))
        assert raised.value.field == "parent_id"
    moved = service.update_department(db, workspace.id, xuhui, DepartmentPatch(parent_id=None))
    assert moved.parent_id is None


def test_parent_department_must_be_in_the_same_workspace(
    db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    theirs = _department(db, other.id, "总部")
    mine = _department(db, workspace.id, "总部")

    with pytest.raises(NotFound) as on_create:
        service.create_department(db, workspace.id, DepartmentIn(name="上海", parent_id=theirs))
    with pytest.raises(NotFound):
        service.update_department(db, workspace.id, mine, DepartmentPatch(parent_id=theirs))
    with pytest.raises(NotFound):
        service.department_subtree_ids(db, workspace.id, theirs)
    assert on_create.value.details["field"] == "parent_id"


def test_subtree_ids_include_every_level_below(db: Session, workspace: WorkspaceFixture) -> None:
    east = _department(db, workspace.id, "华东大区")
    shanghai = _department(db, workspace.id, "上海", east)
    xuhui = _department(db, workspace.id, "徐汇店", shanghai)
    hangzhou = _department(db, workspace.id, "杭州", east)
    north = _department(db, workspace.id, "华北大区")

    assert service.department_subtree_ids(db, workspace.id, east) == sorted(
        [east, shanghai, xuhui, hangzhou]
    )
    assert service.department_subtree_ids(db, workspace.id, shanghai) == sorted([shanghai, xuhui])
    assert service.department_subtree_ids(db, workspace.id, north) == [north]


def test_department_path_is_created_once_and_reused(
    db: Session, workspace: WorkspaceFixture
) -> None:
    first, created = service.ensure_department_path(db, workspace.id, "华东大区/上海/徐汇店")
    again, created_again = service.ensure_department_path(
        db, workspace.id, " 华东大区 / 上海/徐汇店/"
    )
    sibling, created_sibling = service.ensure_department_path(
        db, workspace.id, "华东大区/上海/静安店"
    )

    assert (created, created_again, created_sibling) == (3, 0, 1)
    assert again.id == first.id
    assert sibling.parent_id == first.parent_id
    with pytest.raises(ValidationFailed):
        service.ensure_department_path(db, workspace.id, "华东大区//徐汇店")


def test_sibling_departments_need_distinct_names(db: Session, workspace: WorkspaceFixture) -> None:
    east = _department(db, workspace.id, "华东大区")
    _department(db, workspace.id, "上海", east)
    _department(db, workspace.id, "上海")  # same name at another level is fine

    with pytest.raises(Conflict):
        _department(db, workspace.id, "上海", east)


def test_departments_with_children_or_staff_cannot_be_deleted(
    db: Session, workspace: WorkspaceFixture
) -> None:
    principal = Principal.system(workspace.id)
    east = _department(db, workspace.id, "华东大区")
    shanghai = _department(db, workspace.id, "上海", east)
    service.create_staff(db, workspace.id, StaffIn(name="王芳", department_id=shanghai))

    with pytest.raises(Conflict):
        service.delete_department(db, principal, east)
    with pytest.raises(Conflict):
        service.delete_department(db, principal, shanghai)


def test_staff_mobile_and_email_are_normalized_and_userid_is_unique(
    db: Session, workspace: WorkspaceFixture
) -> None:
    staff = service.create_staff(
        db,
        workspace.id,
        StaffIn(
            name="王芳", wecom_userid="wangfang", mobile="138 0013 8000", email="Wang@Example.COM"
        ),
    )

    assert staff.mobile == "+8613800138000"
    assert staff.email == "Wang@example.com"
    with pytest.raises(Conflict) as duplicate:
        service.create_staff(db, workspace.id, StaffIn(name="王芳2", wecom_userid="wangfang"))
    assert duplicate.value.details["field"] == "wecom_userid"
    with pytest.raises(ValidationFailed) as bad_mobile:
        service.update_staff(db, workspace.id, staff.id, StaffPatch(mobile="12345"))
    assert bad_mobile.value.field == "mobile"


def test_staff_of_another_workspace_is_not_found_or_named(
    db: Session, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    theirs = service.create_staff(db, other.id, StaffIn(name="李雷"))
    mine = service.create_staff(db, workspace.id, StaffIn(name="韩梅梅"))

    with pytest.raises(NotFound):
        service.get_staff(db, workspace.id, theirs.id)
    assert service.staff_names(db, workspace.id, [mine.id, theirs.id]) == {mine.id: "韩梅梅"}
