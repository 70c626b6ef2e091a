from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.exceptions import Conflict
from siyu.kit.tabular import open_table
from siyu.models import Department, Staff
from siyu.staff import importing, service
from tests.conftest import WorkspaceFixture


def test_a_row_failing_midway_leaves_nothing_behind(
    db: Session, workspace: WorkspaceFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "staff.csv"
    path.write_text(
        "姓名,账号,部门\n王芳,wangfang,华东大区/上海\n李雷,lilei,华北大区/北京\n", encoding="utf-8"
    )
    real_lookup = service.staff_by_userid

    def refuse_lilei(session: Session, workspace_id: int, userid: str) -> Staff | None:
        if userid == "lilei":
            raise Conflict("taken by a concurrent import")
        return real_lookup(session, workspace_id, userid)

    monkeypatch.setattr(service, "staff_by_userid", refuse_lilei)

    result = importing.import_staff(db, workspace.id, open_table(path))

    assert (result.created, result.failed) == (1, 1)
    assert result.rows[1].errors[0].message == "taken by a concurrent import"
    names = db.scalars(select(Department.name).where(Department.workspace_id == workspace.id))
    assert sorted(names) == sorted(["华东大区", "上海"])  # 华北大区/北京 rolled back with its row
    assert result.departments_created == 2
