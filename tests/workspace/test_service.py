"""Workspace rules that hold for every caller: CLI, API and jobs alike."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from siyu.models import AuditEntry
from siyu.workspace import service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role
from siyu.workspace.schemas import MemberUpdate
from tests.conftest import MakeWorkspace


def test_a_key_cannot_create_a_key_of_a_higher_role_than_its_own(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ws = make_workspace()
    operator = Principal(workspace_id=ws.id, role=Role.OPERATOR, api_key_id=1)
    with pytest.raises(Forbidden, match="cannot create a key with the admin role"):
        service.issue_api_key(db, operator, name="escalate", role=Role.ADMIN)
    created = service.issue_api_key(db, operator, name="peer", role=Role.OPERATOR)
    assert created.api_key.role == Role.OPERATOR
    assert created.api_key.workspace_id == ws.id


def test_created_key_never_shows_its_plaintext_in_a_repr(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ws = make_workspace()
    created = service.create_api_key(db, workspace_id=ws.id, name="k", role=Role.VIEWER)
    assert created.plaintext not in repr(created)


def test_a_member_cannot_grant_a_role_above_their_own(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ws = make_workspace()
    user = service.create_user(
        db, workspace_id=ws.id, email="v@example.com", name="v", password="x" * 8, role=Role.VIEWER
    )
    operator = Principal(workspace_id=ws.id, role=Role.OPERATOR, user_id=99)
    with pytest.raises(Forbidden):
        service.update_member(db, operator, user.id, MemberUpdate(role=Role.ADMIN))
    with pytest.raises(Forbidden):
        service.invite_member(
            db, operator, email="a@example.com", name="a", password="x" * 8, role=Role.ADMIN
        )


def test_member_of_another_workspace_is_not_found(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ours, theirs = make_workspace(), make_workspace()
    stranger = service.create_user(
        db,
        workspace_id=theirs.id,
        email="s@example.com",
        name="s",
        password="x" * 8,
        role=Role.VIEWER,
    )
    admin = Principal.system(ours.id)
    with pytest.raises(NotFound):
        service.get_member(db, admin, stranger.id)
    with pytest.raises(NotFound):
        service.update_member(db, admin, stranger.id, MemberUpdate(role=Role.OPERATOR))
    with pytest.raises(NotFound):
        service.remove_member(db, admin, stranger.id)


def test_workspace_slug_rules_and_uniqueness(db: Session) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        service.create_workspace(db, slug="Not OK", name="x")
    assert invalid.value.field == "slug"
    service.create_workspace(db, slug="acme", name="Acme")
    with pytest.raises(Conflict):
        service.create_workspace(db, slug="acme", name="Acme again")


def test_audit_entry_joins_the_callers_unit_of_work(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ws = make_workspace()
    principal = Principal(workspace_id=ws.id, role=Role.ADMIN, user_id=5, ip="10.0.0.1")
    service.audit(db, principal, "customers.export", target_type="segment", target_id=12)
    db.flush()
    entry = db.scalars(select(AuditEntry).where(AuditEntry.workspace_id == ws.id)).one()
    assert (entry.action, entry.actor_user_id, entry.target_id, entry.ip) == (
        "customers.export",
        5,
        "12",
        "10.0.0.1",
    )
    db.rollback()
    assert db.scalars(select(AuditEntry)).all() == []


def test_passwords_are_stored_as_argon2id_hashes(
    db: Session, make_workspace: MakeWorkspace
) -> None:
    ws = make_workspace()
    user = service.create_user(
        db,
        workspace_id=ws.id,
        email="h@example.com",
        name="h",
        password="plain text secret",
        role=Role.VIEWER,
    )
    assert user.password_hash.startswith("$argon2id$")
    assert "plain text secret" not in user.password_hash
