"""A segment's members as CSV, in the customers export's columns, audited."""

from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.customers import export as customers_export
from siyu.customers import service as customers_service
from siyu.customers.export import OpenSession
from siyu.kit.pagination import MAX_LIMIT
from siyu.models import SegmentMember
from siyu.segments.service import segment_row
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

AUDIT_ACTION = "segment.export"


def start(session: Session, principal: Principal, segment_id: int) -> str:
    """Check the segment and record the export in the audit log; returns the file name."""
    segment = segment_row(session, principal.workspace_id, segment_id)
    workspace_service.audit(
        session,
        principal,
        AUDIT_ACTION,
        target_type="segment",
        target_id=segment.id,
        details={"name": segment.name, "member_count": segment.member_count},
    )
    return f"segment-{segment.id}.csv"


def chunks(sessions: OpenSession, principal: Principal, segment_id: int) -> Iterator[bytes]:
    """Header, then the members page by page (a short session per page), masked by role."""
    with sessions() as session:
        zone = ZoneInfo(workspace_service.get_workspace(session, principal.workspace_id).timezone)
    yield customers_export.header_bytes()
    after = 0
    while True:
        with sessions() as session:
            ids = list(
                session.scalars(
                    select(SegmentMember.customer_id)
                    .where(
                        SegmentMember.workspace_id == principal.workspace_id,
                        SegmentMember.segment_id == segment_id,
                        SegmentMember.customer_id > after,
                    )
                    .order_by(SegmentMember.customer_id)
                    .limit(MAX_LIMIT)
                )
            )
            items = customers_service.listed_customers(session, principal, ids)
        if not ids:
            return
        yield customers_export.encode_items(items, zone)
        after = ids[-1]
