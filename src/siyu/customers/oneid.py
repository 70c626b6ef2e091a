"""OneID: every record's identities resolve to exactly one live customer (design.md §2.2).

A record whose identities match no customer creates one; one customer, it joins it; several
customers, they merge when a strong identity (a kind in `Workspace.merge_kinds`) links them,
otherwise the record joins the customer its strongest identity names and nothing that
belongs to another customer is taken from it.
"""

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import (
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.customers import identities, merging
from siyu.customers.identities import KIND_ORDER, IdentityKind, IdentityRef
from siyu.customers.merge_schemas import IdentityOut
from siyu.customers.repository import CustomerRepository, Scope
from siyu.customers.resolver import BatchResolver, Ref, customer_row, id_of
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import PageOut, SortSpec, paginate
from siyu.models import Customer, Identity
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

_ATTEMPTS = 3


class Resolution(NamedTuple):
    customer_id: int | None  # None only when create=False and nothing matched
    created: bool
    merged_customer_ids: list[int]  # customers merged into customer_id by this call


def merge_kinds(session: Session, workspace_id: int) -> list[str]:
    """The identity kinds strong enough that one record matching two customers merges them."""
    return list(workspace_service.get_workspace(session, workspace_id).merge_kinds)


def set_merge_kinds(session: Session, principal: Principal, kinds: Sequence[str]) -> list[str]:
    for index, kind in enumerate(kinds):
        if kind not in KIND_ORDER:
            raise ValidationFailed(f"merge_kinds[{index}]", f"unknown identity kind {kind!r}")
    workspace = workspace_service.get_workspace(session, principal.workspace_id)
    before = list(workspace.merge_kinds)
    workspace.merge_kinds = list(dict.fromkeys(kinds))
    workspace_service.audit(
        session,
        principal,
        "workspace.merge_rules",
        target_type="workspace",
        target_id=workspace.id,
        details={"before": before, "after": workspace.merge_kinds},
    )
    return list(workspace.merge_kinds)


def resolve(
    session: Session,
    workspace_id: int,
    refs: Sequence[IdentityRef],
    *,
    create: bool = True,
    source: str,
    actor: str = "system",
) -> Resolution:
    """Resolve one record's (normalised) identities to its customer."""
    return resolve_many(session, workspace_id, [refs], create=create, source=source, actor=actor)[0]


def resolve_many(
    session: Session,
    workspace_id: int,
    batch: Sequence[Sequence[Ref]],
    *,
    create: bool = True,
    source: str,
    actor: str = "system",
) -> list[Resolution]:
    """Resolve records (each its normalised identities, `IdentityRef`s or (kind, value)
    tuples) in order, as `resolve` would one by one, in a few statements.

    Every returned customer_id is live at the end of the batch: a customer an earlier record
    created and a later record merged away is reported as its survivor.
    """
    attempt = 1
    while True:
        try:
            with session.begin_nested():
                return _resolve_batch(
                    session, workspace_id, batch, create=create, source=source, actor=actor
                )
        except IntegrityError:
            # A concurrent transaction attached one of these identities after we looked:
            # look again, now seeing its committed rows.
            if attempt >= _ATTEMPTS:
                raise
            attempt += 1


def _resolve_batch(
    session: Session,
    workspace_id: int,
    batch: Sequence[Sequence[Ref]],
    *,
    create: bool,
    source: str,
    actor: str,
) -> list[Resolution]:
    resolver = BatchResolver(
        session,
        workspace_id,
        merge_kinds=merge_kinds(session, workspace_id),
        source=source,
        actor=actor,
    )
    resolver.load([ref for refs in batch for ref in refs])
    outcomes = [resolver.resolve(refs, create=create) for refs in batch]
    resolver.flush()
    merged_any = bool(resolver.successor)
    results = []
    for customer, created, merged in outcomes:
        if customer is None:
            results.append(Resolution(None, False, []))
            continue
        if merged_any:
            customer = resolver.live(customer)  # noqa: PLW2901 - its survivor stands for it
        results.append(Resolution(id_of(customer), created, [id_of(c) for c in merged]))
    return results


def find_customer_id(session: Session, workspace_id: int, ref: IdentityRef) -> int | None:
    """The live customer owning this (normalised) identity, if any."""
    owner = session.scalar(
        select(Customer)
        .join(Identity, Identity.customer_id == Customer.id)
        .where(
            Identity.workspace_id == workspace_id,
            Identity.kind == ref.kind,
            Identity.value == ref.value,
        )
    )
    return None if owner is None else merging.live_customer(session, workspace_id, owner).id


def identities_of(session: Session, workspace_id: int, customer_id: int) -> list[Identity]:
    customer_row(session, workspace_id, customer_id)
    return list(
        session.scalars(
            select(Identity)
            .where(Identity.workspace_id == workspace_id, Identity.customer_id == customer_id)
            .order_by(Identity.id)
        )
    )


def add_identity(
    session: Session,
    workspace_id: int,
    customer_id: int,
    ref: IdentityRef,
    *,
    source: str,
    actor: str,
) -> Resolution:
    """Attach an identity; one owned by another customer merges the two if its kind is strong."""
    customer = customer_row(session, workspace_id, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict(
            f"customer {customer.id} was merged into customer {customer.merged_into_id}",
            {"field": "customer_id"},
        )
    existing = session.scalar(
        select(Identity).where(
            Identity.workspace_id == workspace_id,
            Identity.kind == ref.kind,
            Identity.value == ref.value,
        )
    )
    if existing is None:
        session.add(
            Identity(
                workspace_id=workspace_id,
                customer_id=customer.id,
                kind=ref.kind,
                value=ref.value,
                source=source,
            )
        )
        _fill_display(customer, ref)
        session.flush()
        return Resolution(customer.id, False, [])
    owner = merging.live_customer(
        session, workspace_id, customer_row(session, workspace_id, existing.customer_id)
    )
    if owner.id == customer.id:
        return Resolution(customer.id, False, [])
    if ref.kind not in merge_kinds(session, workspace_id):
        raise Conflict(
            f"this {ref.kind} belongs to customer {owner.id}, and {ref.kind} is not a merge kind",
            {"field": "value", "customer_id": owner.id},
        )
    survivor, merged = sorted((customer, owner), key=lambda c: c.id)
    merging.merge(
        session,
        workspace_id,
        survivor.id,
        merged.id,
        reason=f"{source}: shared {ref.kind}",
        actor=actor,
    )
    return Resolution(survivor.id, False, [merged.id])


def remove_identity(
    session: Session, workspace_id: int, customer_id: int, identity_id: int
) -> None:
    identity = session.scalar(
        select(Identity).where(
            Identity.workspace_id == workspace_id,
            Identity.customer_id == customer_id,
            Identity.id == identity_id,
        )
    )
    if identity is None:
        raise NotFound("identity")
    customer = customer_row(session, workspace_id, customer_id)
    session.delete(identity)
    session.flush()
    if identity.kind == IdentityKind.MOBILE and customer.mobile == identity.value:
        customer.mobile = customer.mobile_last4 = None
    elif identity.kind == IdentityKind.EMAIL and customer.email == identity.value:
        customer.email = None
    else:
        return
    for other in identities_of(session, workspace_id, customer_id):
        _fill_display(customer, IdentityRef(other.kind, other.value))


def lookup(session: Session, principal: Principal, kind: str, value: str) -> int:
    """The live customer an identity names, if the principal may see it."""
    customer_id = find_customer_id(session, principal.workspace_id, _parse(kind, value))
    if customer_id is None:
        raise NotFound("customer")
    return visible_customer(session, principal, customer_id).id


def identity_page(
    session: Session, principal: Principal, customer_id: int, *, cursor: str | None, limit: int
) -> PageOut[IdentityOut]:
    customer = visible_customer(session, principal, customer_id)
    stmt, page = paginate(
        select(Identity).where(
            Identity.workspace_id == principal.workspace_id, Identity.customer_id == customer.id
        ),
        columns={"id": Identity.id.expression},
        id_column=Identity.id.expression,
        sort=SortSpec("id", descending=False),
        cursor=cursor,
        limit=limit,
    )
    rows, next_cursor = page.build(list(session.scalars(stmt)))
    masked = principal.role is Role.VIEWER
    return PageOut(
        items=[
            IdentityOut(
                id=row.id,
                kind=row.kind,
                value=identities.mask(row.kind, row.value) if masked else row.value,
                source=row.source,
                created_at=row.created_at,
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


def add_identity_as(
    session: Session, principal: Principal, customer_id: int, kind: str, value: str
) -> Resolution:
    """Attach an identity as a person or integrator; a merge it causes is audited."""
    customer = visible_customer(session, principal, customer_id)
    result = add_identity(
        session,
        principal.workspace_id,
        customer.id,
        _parse(kind, value),
        source="manual",
        actor=principal.actor,
    )
    for merged_id in result.merged_customer_ids:
        workspace_service.audit(
            session,
            principal,
            "customer.merge",
            target_type="customer",
            target_id=result.customer_id,
            details={"merged_id": merged_id, "reason": f"shared {kind}"},
        )
    return result


def remove_identity_as(
    session: Session, principal: Principal, customer_id: int, identity_id: int
) -> None:
    customer = visible_customer(session, principal, customer_id)
    remove_identity(session, principal.workspace_id, customer.id, identity_id)


def _parse(kind: str, value: str) -> IdentityRef:
    """An identity from request input: errors name the `kind` or `value` field."""
    if kind.strip().lower() not in KIND_ORDER:
        raise ValidationFailed("kind", f"unknown identity kind {kind!r}")
    return identities.normalize(kind, value, field="value")


def visible_customer(session: Session, principal: Principal, customer_id: int) -> Customer:
    """A live customer of the principal's workspace and data scope, else NotFound."""
    customer = CustomerRepository(session).get(Scope.of(principal), customer_id)
    if customer is None:
        raise NotFound("customer")
    return customer


def _fill_display(customer: Customer, ref: IdentityRef) -> None:
    """The profile's mobile and email columns show an identity when they are empty."""
    if ref.kind == IdentityKind.MOBILE and not customer.mobile:
        customer.mobile = ref.value
        customer.mobile_last4 = ref.value[-4:]
    elif ref.kind == IdentityKind.EMAIL and not customer.email:
        customer.email = ref.value
