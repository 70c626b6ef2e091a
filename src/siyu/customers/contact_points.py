"""Where a customer can be reached on each channel, as subqueries for audience planning."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, String, cast, func, literal, select
from sqlalchemy.orm import Session

from siyu.models import Customer, FollowRelation, Identity, Staff

WECOM_KIND = "wecom_external_userid"


def addresses(workspace_id: int, channel: str) -> Select[Any, Any, Any]:
    """Rows (customer_id, address, staff_id), at most one per customer of the workspace.

    email and sms use the profile's email and mobile; customers without one have no row.
    wecom has a row for every customer with an external userid: `staff_id` is the member
    of one active follow relation to an active staff member with a WeCom userid — the
    earliest added, who has known the customer longest — or None when nobody follows.
    """
    live = (Customer.workspace_id == workspace_id, Customer.merged_into_id.is_(None))
    if channel in ("email", "sms"):
        column = Customer.email if channel == "email" else Customer.mobile
        return select(
            Customer.id.label("customer_id"),
            column.label("address"),
            literal(None).label("staff_id"),
        ).where(*live, column.is_not(None), column != "")
    if channel == "webhook":
        return select(
            Customer.id.label("customer_id"),
            cast(Customer.id, String(40)).label("address"),
            literal(None).label("staff_id"),
        ).where(*live)
    if channel == "wecom":
        first = (
            select(func.min(FollowRelation.id).label("relation_id"))
            .join(Staff, Staff.id == FollowRelation.staff_id)
            .where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.status == "active",
                Staff.status == "active",
                Staff.wecom_userid.is_not(None),
            )
            .group_by(FollowRelation.customer_id)
            .subquery()
        )
        follower = (
            select(FollowRelation.customer_id, FollowRelation.staff_id)
            .join(first, first.c.relation_id == FollowRelation.id)
            .subquery()
        )
        # a merged customer may hold two external userids; one message is enough
        identity = (
            select(Identity.customer_id, func.min(Identity.value).label("value"))
            .where(Identity.workspace_id == workspace_id, Identity.kind == WECOM_KIND)
            .group_by(Identity.customer_id)
            .subquery()
        )
        return select(
            identity.c.customer_id.label("customer_id"),
            identity.c.value.label("address"),
            follower.c.staff_id.label("staff_id"),
        ).outerjoin(follower, follower.c.customer_id == identity.c.customer_id)
    raise ValueError(f"no addresses for channel {channel!r}")


def profiles(
    session: Session, workspace_id: int, customer_ids: Sequence[int]
) -> dict[int, tuple[str | None, dict[str, Any]]]:
    """Name and custom fields of each customer, for filling message variables."""
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.custom_fields).where(
            Customer.workspace_id == workspace_id, Customer.id.in_(customer_ids)
        )
    )
    return {row.id: (row.name, row.custom_fields or {}) for row in rows}
