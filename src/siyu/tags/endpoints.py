from typing import Annotated

from fastapi import APIRouter, Query, Response

import siyu.tags.jobs  # noqa: F401 - registers the tags.batch job where the API enqueues it
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.tags import batching, service
from siyu.tags.schemas import (
    BatchIn,
    BatchOut,
    CustomerTagOut,
    CustomerTagsIn,
    OrderIn,
    TagChangeOut,
    TagGroupIn,
    TagGroupOut,
    TagGroupPatch,
    TagIn,
    TagOut,
    TagPatch,
)
from siyu.workspace.dependencies import Operator, Staff, Viewer

router = APIRouter(tags=["tags"])


@router.get("/tag-groups", response_model=list[TagGroupOut])
def list_groups(session: DbSession, principal: Viewer) -> list[TagGroupOut]:
    """Every tag group with its tags and how many customers carry each tag."""
    return service.list_groups(session, principal.workspace_id)


@router.post("/tag-groups", response_model=TagGroupOut, status_code=201)
def create_group(body: TagGroupIn, session: DbSession, principal: Operator) -> TagGroupOut:
    group = service.create_group(session, principal.workspace_id, name=body.name)
    return TagGroupOut.model_validate(group)


@router.put("/tag-groups/order", response_model=list[TagGroupOut])
def reorder_groups(body: OrderIn, session: DbSession, principal: Operator) -> list[TagGroupOut]:
    return service.reorder_groups(session, principal.workspace_id, body.ids)


@router.patch("/tag-groups/{group_id}", response_model=TagGroupOut)
def rename_group(
    group_id: int, body: TagGroupPatch, session: DbSession, principal: Operator
) -> TagGroupOut:
    group = service.rename_group(session, principal.workspace_id, group_id, name=body.name)
    return TagGroupOut.model_validate(group)


@router.delete("/tag-groups/{group_id}", status_code=204)
def delete_group(group_id: int, session: DbSession, principal: Operator) -> None:
    """Delete a group and its tags; assignments are removed and recorded in tag history."""
    service.delete_group(session, principal, group_id)


@router.post("/tag-groups/{group_id}/tags", response_model=TagOut, status_code=201)
def create_tag(group_id: int, body: TagIn, session: DbSession, principal: Operator) -> TagOut:
    tag = service.create_tag(session, principal.workspace_id, group_id, name=body.name)
    return TagOut.model_validate(tag)


@router.put("/tag-groups/{group_id}/tags/order", response_model=list[TagOut])
def reorder_tags(
    group_id: int, body: OrderIn, session: DbSession, principal: Operator
) -> list[TagOut]:
    return service.reorder_tags(session, principal.workspace_id, group_id, body.ids)


@router.patch("/tags/{tag_id}", response_model=TagOut)
def update_tag(tag_id: int, body: TagPatch, session: DbSession, principal: Operator) -> TagOut:
    tag = service.update_tag(
        session, principal.workspace_id, tag_id, name=body.name, group_id=body.group_id
    )
    return TagOut.model_validate(tag)


@router.delete("/tags/{tag_id}", status_code=204)
def delete_tag(tag_id: int, session: DbSession, principal: Operator) -> None:
    """Delete a tag; its assignments are removed and recorded in tag history."""
    service.delete_tag(session, principal, tag_id)


@router.post("/tags/batch", response_model=BatchOut)
def batch(body: BatchIn, response: Response, session: DbSession, principal: Operator) -> BatchOut:
    """Up to 1,000 explicit customers change inline; more, or a filter, run as a job (202)."""
    result = batching.start_batch(session, principal, body)
    if result.job_id is not None:
        response.status_code = 202
    return result


@router.get("/customers/{customer_id}/tags", response_model=list[CustomerTagOut])
def customer_tags(customer_id: int, session: DbSession, principal: Viewer) -> list[CustomerTagOut]:
    return service.customer_tags(session, principal, customer_id)


@router.post("/customers/{customer_id}/tags", response_model=list[CustomerTagOut])
def add_customer_tags(
    customer_id: int, body: CustomerTagsIn, session: DbSession, principal: Staff
) -> list[CustomerTagOut]:
    return service.change_customer_tags(session, principal, customer_id, body.tag_ids, add=True)


@router.delete("/customers/{customer_id}/tags", response_model=list[CustomerTagOut])
def remove_customer_tags(
    customer_id: int,
    tag_ids: Annotated[list[int], Query(min_length=1, max_length=1000)],
    session: DbSession,
    principal: Staff,
) -> list[CustomerTagOut]:
    return service.change_customer_tags(session, principal, customer_id, tag_ids, add=False)


@router.get("/customers/{customer_id}/tag-history", response_model=PageOut[TagChangeOut])
def tag_history(
    customer_id: int,
    session: DbSession,
    principal: Viewer,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[TagChangeOut]:
    return service.tag_history(session, principal, customer_id, cursor=cursor, limit=limit)
