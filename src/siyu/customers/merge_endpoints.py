"""Identities, lookup by identity, merges and their undo, and the workspace's merge rules."""

from fastapi import APIRouter, Query

from siyu.customers import merging, oneid
from siyu.customers.merge_schemas import (
    IdentityIn,
    IdentityOut,
    LookupOut,
    MergeIn,
    MergeOut,
    MergeRules,
    ResolutionOut,
)
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.workspace.dependencies import Admin, Operator, Viewer

router = APIRouter(tags=["customers"])


@router.get("/customers/lookup", response_model=LookupOut)
def lookup(
    session: DbSession,
    principal: Viewer,
    kind: str = Query(description="identity kind, e.g. mobile"),
    value: str = Query(description="identity value in any accepted format"),
) -> LookupOut:
    return LookupOut(customer_id=oneid.lookup(session, principal, kind, value))


@router.get("/customers/{customer_id}/identities", response_model=PageOut[IdentityOut])
def list_identities(
    customer_id: int,
    session: DbSession,
    principal: Viewer,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[IdentityOut]:
    return oneid.identity_page(session, principal, customer_id, cursor=cursor, limit=limit)


@router.post("/customers/{customer_id}/identities", response_model=ResolutionOut, status_code=201)
def add_identity(
    customer_id: int, body: IdentityIn, session: DbSession, principal: Operator
) -> ResolutionOut:
    result = oneid.add_identity_as(session, principal, customer_id, body.kind, body.value)
    assert result.customer_id is not None
    return ResolutionOut(
        customer_id=result.customer_id, merged_customer_ids=result.merged_customer_ids
    )


@router.delete("/customers/{customer_id}/identities/{identity_id}", status_code=204)
def remove_identity(
    customer_id: int, identity_id: int, session: DbSession, principal: Operator
) -> None:
    oneid.remove_identity_as(session, principal, customer_id, identity_id)


@router.post("/customers/{survivor_id}/merge", response_model=MergeOut, status_code=201)
def merge(survivor_id: int, body: MergeIn, session: DbSession, principal: Operator) -> MergeOut:
    record = merging.merge_as(session, principal, survivor_id, body.merged_id, reason=body.reason)
    return MergeOut.of(record)


@router.get("/customers/{customer_id}/merges", response_model=PageOut[MergeOut])
def merge_history(
    customer_id: int,
    session: DbSession,
    principal: Viewer,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[MergeOut]:
    records, next_cursor = merging.merge_history_page(
        session, principal, customer_id, cursor=cursor, limit=limit
    )
    return PageOut(items=[MergeOut.of(r) for r in records], next_cursor=next_cursor)


@router.post("/merges/{merge_id}/undo", response_model=MergeOut)
def undo_merge(merge_id: int, session: DbSession, principal: Operator) -> MergeOut:
    return MergeOut.of(merging.unmerge_as(session, principal, merge_id))


@router.get("/settings/merge-rules", response_model=MergeRules)
def get_merge_rules(session: DbSession, principal: Viewer) -> MergeRules:
    return MergeRules(merge_kinds=oneid.merge_kinds(session, principal.workspace_id))


@router.put("/settings/merge-rules", response_model=MergeRules)
def set_merge_rules(body: MergeRules, session: DbSession, principal: Admin) -> MergeRules:
    return MergeRules(merge_kinds=oneid.set_merge_kinds(session, principal, body.merge_kinds))
