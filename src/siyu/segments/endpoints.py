from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, UploadFile, status
from fastapi.responses import StreamingResponse

import siyu.segments.jobs  # noqa: F401 - registers the jobs the service enqueues
from siyu.customers.export import read_sessions
from siyu.customers.schemas import CustomerListItem
from siyu.db.dependencies import DbSession, reads_only, writes
from siyu.exceptions import PayloadTooLarge
from siyu.kit.pagination import PageOut
from siyu.segments import export, service, static_lists
from siyu.segments.schemas import (
    ChangeOut,
    ListUploadOut,
    MembersIn,
    MembersOut,
    PreviewIn,
    PreviewOut,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
    SnapshotIn,
    SnapshotOut,
)
from siyu.workspace.dependencies import Operator, Viewer

router = APIRouter(prefix="/segments", tags=["segments"])
MAX_UPLOAD = 5 << 20


@router.get("", response_model=list[SegmentOut])
def list_segments(session: DbSession, principal: Viewer) -> list[SegmentOut]:
    """Every segment with its size, build state and the last 30 days' size trend."""
    return service.list_segments(session, principal)


@router.post("", response_model=SegmentOut, status_code=status.HTTP_201_CREATED)
def create_segment(body: SegmentIn, session: DbSession, principal: Operator) -> SegmentOut:
    """A dynamic segment is built in the background (status pending → ready)."""
    return service.create_segment(session, principal, body)


@router.post("/preview", response_model=PreviewOut, dependencies=[Depends(reads_only)])
def preview(body: PreviewIn, session: DbSession, principal: Viewer) -> PreviewOut:
    """Count the customers a rule holds for now, while it is being edited; stores nothing."""
    return service.preview(session, principal, body.rule, body.sample_size)


@router.get("/{segment_id}", response_model=SegmentOut)
def get_segment(segment_id: int, session: DbSession, principal: Viewer) -> SegmentOut:
    return service.get_segment(session, principal, segment_id)


@router.patch("/{segment_id}", response_model=SegmentOut)
def update_segment(
    segment_id: int, body: SegmentUpdate, session: DbSession, principal: Operator
) -> SegmentOut:
    return service.update_segment(session, principal, segment_id, body)


@router.delete("/{segment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_segment(segment_id: int, session: DbSession, principal: Operator) -> None:
    service.delete_segment(session, principal, segment_id)


@router.get("/{segment_id}/sample", response_model=list[CustomerListItem])
def sample(
    segment_id: int,
    session: DbSession,
    principal: Viewer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[CustomerListItem]:
    """The first members, as the customer list shows them (masked for viewers)."""
    return service.sample(session, principal, segment_id, limit)


@router.get("/{segment_id}/changes", response_model=PageOut[ChangeOut])
def changes(
    segment_id: int,
    session: DbSession,
    principal: Viewer,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[ChangeOut]:
    """Customers who entered or left, newest first (journeys start from these)."""
    return service.changes(session, principal, segment_id, cursor, limit)


@router.get(
    "/{segment_id}/export",
    dependencies=[Depends(writes)],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the members as CSV"}},
)
def export_members(
    segment_id: int, request: Request, session: DbSession, principal: Viewer
) -> StreamingResponse:
    """The members as CSV (UTF-8 with BOM); recorded in the audit log."""
    filename = export.start(session, principal, segment_id)
    return StreamingResponse(
        export.chunks(read_sessions(request.app.state.engine), principal, segment_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/{segment_id}/snapshots", response_model=SnapshotOut, status_code=201)
def take_snapshot(
    segment_id: int, body: SnapshotIn, session: DbSession, principal: Operator
) -> SnapshotOut:
    """Freeze who is in the segment now, e.g. as the audience of a send."""
    return service.take_snapshot(session, principal, segment_id, body.purpose)


@router.get("/{segment_id}/snapshots", response_model=list[SnapshotOut])
def list_snapshots(segment_id: int, session: DbSession, principal: Viewer) -> list[SnapshotOut]:
    return service.snapshots(session, principal, segment_id)


@router.post("/{segment_id}/members", response_model=MembersOut)
def add_members(
    segment_id: int, body: MembersIn, session: DbSession, principal: Operator
) -> MembersOut:
    """Add customers to a static list."""
    return static_lists.add_members(session, principal, segment_id, body.customer_ids)


@router.post("/{segment_id}/members/remove", response_model=MembersOut)
def remove_members(
    segment_id: int, body: MembersIn, session: DbSession, principal: Operator
) -> MembersOut:
    """Take customers off a static list."""
    return static_lists.remove_members(session, principal, segment_id, body.customer_ids)


@router.post("/{segment_id}/members/upload", response_model=ListUploadOut)
def upload_members(
    segment_id: int, file: UploadFile, session: DbSession, principal: Operator
) -> ListUploadOut:
    """A one-column CSV of customer ids, mobiles or WeCom external user ids (named by its
    header row); every row is reported as matched, unknown or invalid."""
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise PayloadTooLarge("the file is larger than 5 MB", {"field": "file"})
    return static_lists.upload_members(session, principal, segment_id, content)
