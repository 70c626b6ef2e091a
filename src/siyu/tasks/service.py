"""Follow-up notes (跟进记录) staff write about their customers; shown on the timeline."""

from collections.abc import Sequence

from sqlalchemy.orm import Session

import siyu.customers.service as customers_service
from siyu.exceptions import ValidationFailed
from siyu.kit.pagination import PageOut, check_limit
from siyu.kit.timeline import TimelineCursor, TimelineEntry
from siyu.models import FollowUp
from siyu.staff import service as staff_service
from siyu.tasks.repository import TIMELINE_KIND, TasksRepository
from siyu.tasks.schemas import BODY_MAX_LENGTH, FollowUpOut
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

TITLE_LENGTH = 60


def _clean_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise ValidationFailed("body", "must not be empty")
    if len(text) > BODY_MAX_LENGTH:
        raise ValidationFailed("body", f"must be at most {BODY_MAX_LENGTH} characters")
    return text


def _author_names(
    session: Session, workspace_id: int, notes: Sequence[FollowUp]
) -> dict[int, str | None]:
    """Each note's author: its staff member, else its user, else its API key."""
    staff = staff_service.staff_names(
        session, workspace_id, [n.author_staff_id for n in notes if n.author_staff_id is not None]
    )
    actors = workspace_service.actor_names(
        session,
        workspace_id,
        user_ids=[n.author_user_id for n in notes],
        api_key_ids=[n.author_api_key_id for n in notes],
    )
    return {
        n.id: (staff.get(n.author_staff_id) if n.author_staff_id is not None else None)
        or actors.name(n.author_user_id, n.author_api_key_id)
        for n in notes
    }


def _out(note: FollowUp, author_name: str | None) -> FollowUpOut:
    return FollowUpOut(
        id=note.id,
        customer_id=note.customer_id,
        body=note.body,
        author_name=author_name,
        author_user_id=note.author_user_id,
        author_staff_id=note.author_staff_id,
        created_at=note.created_at,
    )


def add_follow_up(
    session: Session, principal: Principal, customer_id: int, body: str
) -> FollowUpOut:
    """Write a note about a customer the principal may see (staff: the ones they follow)."""
    customer = customers_service.get_customer(session, principal, customer_id)
    note = FollowUp(
        workspace_id=principal.workspace_id,
        customer_id=customer.id,
        author_user_id=principal.user_id,
        author_staff_id=principal.staff_id,
        author_api_key_id=principal.api_key_id,
        body=_clean_body(body),
    )
    session.add(note)
    session.flush()
    return _out(note, _author_names(session, principal.workspace_id, [note])[note.id])


def list_follow_ups(
    session: Session, principal: Principal, customer_id: int, *, cursor: str | None, limit: int
) -> PageOut[FollowUpOut]:
    check_limit(limit)
    customer = customers_service.get_customer(session, principal, customer_id)
    notes, next_cursor = TasksRepository(session, principal.workspace_id).follow_ups_page(
        customer.id, cursor=cursor, limit=limit
    )
    names = _author_names(session, principal.workspace_id, notes)
    return PageOut(items=[_out(n, names[n.id]) for n in notes], next_cursor=next_cursor)


def timeline_entries(
    session: Session,
    workspace_id: int,
    customer_id: int,
    *,
    before: TimelineCursor | None,
    limit: int,
) -> list[TimelineEntry]:
    notes = TasksRepository(session, workspace_id).timeline_follow_ups(
        customer_id, before=before, limit=limit
    )
    names = _author_names(session, workspace_id, notes)
    return [
        TimelineEntry(
            kind=TIMELINE_KIND,
            id=note.id,
            occurred_at=note.created_at,
            title=_title(note.body),
            data={
                "body": note.body,
                "author_name": names[note.id],
                "author_user_id": note.author_user_id,
                "author_staff_id": note.author_staff_id,
            },
        )
        for note in notes
    ]


def _title(body: str) -> str:
    short = body.splitlines()[0][:TITLE_LENGTH]
    return f"跟进记录：{short}{'' if short == body else '…'}"
