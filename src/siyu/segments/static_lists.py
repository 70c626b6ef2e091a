"""Static lists: members chosen by hand or uploaded as a file, reported row by row."""

import csv
import io
from collections.abc import Sequence

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from siyu.customers import identities, oneid
from siyu.customers import service as customers_service
from siyu.db.bulk import insert_rows
from siyu.exceptions import NotFound, PayloadTooLarge, SiyuError, ValidationFailed
from siyu.kit.time import utcnow
from siyu.models import Segment, SegmentChange, SegmentMember
from siyu.segments import membership
from siyu.segments.schemas import ListRowOut, ListUploadOut, MembersOut
from siyu.segments.service import context, segment_row
from siyu.workspace.principal import Principal

MAX_ROWS = 20_000
# Header of the single column -> what its values are.
COLUMNS = {
    "customer_id": "customer_id",
    "客户id": "customer_id",
    "mobile": "mobile",
    "手机号": "mobile",
    "wecom_external_userid": "wecom_external_userid",
    "external_userid": "wecom_external_userid",
}


def _static(session: Session, principal: Principal, segment_id: int) -> Segment:
    segment = segment_row(session, principal.workspace_id, segment_id)
    if segment.kind != "static":
        raise ValidationFailed("segment_id", "members are added to static lists only")
    return segment


def _add(session: Session, segment: Segment, customer_ids: Sequence[int]) -> int:
    present = set(
        session.scalars(
            select(SegmentMember.customer_id).where(
                SegmentMember.segment_id == segment.id,
                SegmentMember.customer_id.in_(list(customer_ids)),
            )
        )
    )
    new = [i for i in dict.fromkeys(customer_ids) if i not in present]
    if not new:
        return 0
    now = utcnow()
    members: Table = SegmentMember.__table__  # type: ignore[assignment]
    changes: Table = SegmentChange.__table__  # type: ignore[assignment]
    insert_rows(
        session,
        members,
        [
            {
                "workspace_id": segment.workspace_id,
                "segment_id": segment.id,
                "customer_id": i,
                "entered_at": now,
            }
            for i in new
        ],
    )
    insert_rows(
        session,
        changes,
        [
            {
                "workspace_id": segment.workspace_id,
                "segment_id": segment.id,
                "customer_id": i,
                "change": "entered",
                "changed_at": now,
            }
            for i in new
        ],
    )
    return len(new)


def _finish(session: Session, segment: Segment) -> MembersOut:
    segment.member_count = (
        session.scalar(select(func.count()).where(SegmentMember.segment_id == segment.id)) or 0
    )
    membership.record_size(session, segment, context(session, segment.workspace_id))
    session.flush()
    return MembersOut(member_count=segment.member_count)


def add_members(
    session: Session, principal: Principal, segment_id: int, customer_ids: Sequence[int]
) -> MembersOut:
    segment = _static(session, principal, segment_id)
    ids = customers_service.require_customer_ids(session, principal.workspace_id, customer_ids)
    added = _add(session, segment, ids)
    return _finish(session, segment).model_copy(update={"added": added})


def remove_members(
    session: Session, principal: Principal, segment_id: int, customer_ids: Sequence[int]
) -> MembersOut:
    segment = _static(session, principal, segment_id)
    ids = customers_service.require_customer_ids(session, principal.workspace_id, customer_ids)
    gone = list(
        session.scalars(
            select(SegmentMember.customer_id).where(
                SegmentMember.segment_id == segment.id, SegmentMember.customer_id.in_(ids)
            )
        )
    )
    if gone:
        session.execute(
            delete(SegmentMember).where(
                SegmentMember.segment_id == segment.id, SegmentMember.customer_id.in_(gone)
            )
        )
        now = utcnow()
        changes: Table = SegmentChange.__table__  # type: ignore[assignment]
        insert_rows(
            session,
            changes,
            [
                {
                    "workspace_id": segment.workspace_id,
                    "segment_id": segment.id,
                    "customer_id": i,
                    "change": "left",
                    "changed_at": now,
                }
                for i in gone
            ],
        )
    return _finish(session, segment).model_copy(update={"removed": len(gone)})


def upload_members(
    session: Session, principal: Principal, segment_id: int, content: bytes
) -> ListUploadOut:
    """Add the customers a one-column CSV names (customer ids, mobiles or WeCom external user
    ids, said by its header). Every row is reported; only matched customers are added."""
    segment = _static(session, principal, segment_id)
    rows = _read(content)
    kind = COLUMNS.get(rows[0].strip().lower()) if rows else None
    if kind is None:
        raise ValidationFailed(
            "file", f"the first row must name the column: one of {', '.join(COLUMNS)}"
        )
    if len(rows) - 1 > MAX_ROWS:
        raise PayloadTooLarge(f"at most {MAX_ROWS} rows per upload", {"field": "file"})
    report: list[ListRowOut] = []
    matched: list[int] = []
    for number, raw in enumerate(rows[1:], start=2):
        value = raw.strip()
        if not value:
            continue
        row = _match(session, principal, kind, value, number)
        report.append(row)
        if row.customer_id is not None:
            matched.append(row.customer_id)
    added = _add(session, segment, matched) if matched else 0
    out = _finish(session, segment)
    return ListUploadOut(
        matched=sum(r.status == "matched" for r in report),
        unknown=sum(r.status == "unknown" for r in report),
        invalid=sum(r.status == "invalid" for r in report),
        added=added,
        member_count=out.member_count,
        rows=report,
    )


def _read(content: bytes) -> list[str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed("file", "the file is neither UTF-8 nor GBK text")
    return [r[0] if r else "" for r in csv.reader(io.StringIO(text))]


def _match(
    session: Session, principal: Principal, kind: str, value: str, number: int
) -> ListRowOut:
    if kind == "customer_id":
        if not value.isdigit():
            return ListRowOut(row=number, value=value, status="invalid", reason="not a customer id")
        try:
            customer = customers_service.get_customer(session, principal, int(value))
        except NotFound:
            return ListRowOut(row=number, value=value, status="unknown")
        return ListRowOut(row=number, value=value, status="matched", customer_id=customer.id)
    try:
        ref = identities.normalize(kind, value, field="value")
    except SiyuError as error:
        return ListRowOut(row=number, value=value, status="invalid", reason=error.message)
    found = oneid.find_customer_id(session, principal.workspace_id, ref)
    if found is None:
        return ListRowOut(row=number, value=value, status="unknown")
    return ListRowOut(row=number, value=value, status="matched", customer_id=found)
