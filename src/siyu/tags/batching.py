"""Adding or removing tags on many customers: small explicit lists inline, the rest as a job."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

import siyu.customers.service as customers_service
from siyu.exceptions import ValidationFailed
from siyu.tags.repository import TagRepository
from siyu.tags.schemas import BatchAction, BatchIn, BatchOut, CustomerFilter
from siyu.tags.service import TagSource, add_tags, remove_tags, require_tags
from siyu.worker.queue import enqueue
from siyu.workspace.principal import Principal

BATCH_JOB = "tags.batch"
INLINE_BATCH_LIMIT = 1000
FILTER_PAGE_SIZE = 200
_FILTER_SORT = "created_at"


def customer_query(
    customer_filter: CustomerFilter, *, cursor: str | None, limit: int
) -> customers_service.CustomerQuery:
    """The customer list query a batch filter stands for, one page at a time."""
    fields = customer_filter.model_dump(exclude={"custom_fields"})
    return customers_service.CustomerQuery(
        **fields,
        custom=customer_filter.custom_fields,
        sort=_FILTER_SORT,
        cursor=cursor,
        limit=limit,
    )


def filtered_customer_page(
    session: Session, workspace_id: int, customer_filter: CustomerFilter, cursor: str | None
) -> tuple[list[int], str | None]:
    """One page of the ids a batch filter matches, and the cursor after it."""
    page = customers_service.list_customers(
        session,
        Principal.system(workspace_id),
        customer_query(customer_filter, cursor=cursor, limit=FILTER_PAGE_SIZE),
    )
    return [c.id for c in page.items], page.next_cursor


def live_customer_ids(session: Session, workspace_id: int, ids: Sequence[int]) -> list[int]:
    """The live customers the given ids stand for now (merged ones by their survivor)."""
    return list(
        dict.fromkeys(customers_service.live_customer_ids(session, workspace_id, ids).values())
    )


def start_batch(session: Session, principal: Principal, body: BatchIn) -> BatchOut:
    """Add or remove tags on many customers: small explicit lists inline, the rest as a job."""
    workspace_id = principal.workspace_id
    if (body.customer_ids is None) == (body.filter is None):
        raise ValidationFailed("customer_ids", "give exactly one of customer_ids and filter")
    tag_ids = require_tags(TagRepository(session, workspace_id), body.tag_ids)
    payload: dict[str, Any] = {
        "action": body.action.value,
        "tag_ids": tag_ids,
        "source": TagSource.MANUAL.value,
        "actor": principal.actor,
    }
    if body.customer_ids is not None:
        ids = customers_service.require_customer_ids(session, workspace_id, body.customer_ids)
        if len(ids) <= INLINE_BATCH_LIMIT:
            change = add_tags if body.action is BatchAction.ADD else remove_tags
            changed = change(
                session, workspace_id, ids, tag_ids, source=TagSource.MANUAL, actor=principal.actor
            )
            return BatchOut(changed=changed)
        payload["customer_ids"] = sorted(ids)
    else:
        assert body.filter is not None
        try:  # one row of the list proves the filter valid before the job is queued
            customers_service.list_customers(
                session, principal, customer_query(body.filter, cursor=None, limit=1)
            )
        except ValidationFailed as exc:
            message = exc.message.removeprefix(f"{exc.field}: ")
            raise ValidationFailed(f"filter.{exc.field}", message) from exc
        payload["filter"] = body.filter.model_dump(mode="json")
    job = enqueue(session, BATCH_JOB, payload, workspace_id=workspace_id)
    return BatchOut(job_id=job.id)
