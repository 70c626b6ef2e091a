"""OneID: every record's identities resolve to exactly one live customer (design.md §2.2).

A record whose identities match no customer creates one; one customer, it joins it; several
customers, they merge when a strong identity (a kind in `Workspace.merge_kinds`) links them,
otherwise the record joins the customer its strongest identity names and nothing that
belongs to another customer is taken from it.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.customers import identities, merging
from siyu.customers.identities import KIND_ORDER, IdentityKind, IdentityRef
from siyu.customers.merge_schemas import IdentityOut
from siyu.customers.repository import CustomerRepository, Scope
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import PageOut, SortSpec, paginate
from siyu.models import Customer, Identity
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

# Bulk writes go through Core: the ORM's bulk path costs more per row than the database.
_CUSTOMER_TABLE = cast("Table", Customer.__table__)
_IDENTITY_TABLE = cast("Table", Identity.__table__)
_ATTEMPTS = 3
# Refs per identity SELECT: keeps the bind parameters of one statement well inside both
# SQLite's and PostgreSQL's limits.
_LOOKUP_CHUNK = 5000


@dataclass(frozen=True)
class Resolution:
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
    batch: Sequence[Sequence[IdentityRef]],
    *,
    create: bool = True,
    source: str,
    actor: str = "system",
) -> list[Resolution]:
    """Resolve records in order, as `resolve` would one by one, in a few statements.

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
    batch: Sequence[Sequence[IdentityRef]],
    *,
    create: bool,
    source: str,
    actor: str,
) -> list[Resolution]:
    resolver = _BatchResolver(session, workspace_id, source=source, actor=actor)
    resolver.load([ref for refs in batch for ref in refs])
    outcomes = [resolver.resolve(list(dict.fromkeys(refs)), create=create) for refs in batch]
    resolver.flush()
    results = []
    for outcome in outcomes:
        if outcome.customer is None:
            results.append(Resolution(None, False, []))
            continue
        results.append(
            Resolution(
                _id_of(resolver.live(outcome.customer)),
                outcome.created,
                [_id_of(customer) for customer in outcome.merged],
            )
        )
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
    _customer(session, workspace_id, customer_id)
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
    customer = _customer(session, workspace_id, customer_id)
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
        session, workspace_id, _customer(session, workspace_id, existing.customer_id)
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
    customer = _customer(session, workspace_id, customer_id)
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


def _customer(session: Session, workspace_id: int, customer_id: int) -> Customer:
    customer = session.scalar(
        select(Customer).where(Customer.workspace_id == workspace_id, Customer.id == customer_id)
    )
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


@dataclass(eq=False)
class _Handle:
    """A customer as the batch sees it: an id (None until a new one is inserted) and the
    display columns it may fill. Compared by identity, one handle per customer."""

    id: int | None
    mobile: str | None = None
    mobile_last4: str | None = None
    email: str | None = None
    filled: set[str] = field(default_factory=set)

    def fill(self, ref: IdentityRef) -> None:
        if ref.kind == IdentityKind.MOBILE and not self.mobile:
            self.mobile, self.mobile_last4 = ref.value, ref.value[-4:]
            self.filled.add("mobile")
        elif ref.kind == IdentityKind.EMAIL and not self.email:
            self.email = ref.value
            self.filled.add("email")


@dataclass
class _Outcome:
    customer: _Handle | None
    created: bool
    merged: list[_Handle]


class _BatchResolver:
    """Owners of a batch's identities in memory; new rows written in bulk at `flush`."""

    def __init__(self, session: Session, workspace_id: int, *, source: str, actor: str) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.source = source
        self.actor = actor
        self.merge_kinds = merge_kinds(session, workspace_id)
        self.rank = _ranking(self.merge_kinds)
        self.owner: dict[IdentityRef, _Handle] = {}
        self.handles: dict[int, _Handle] = {}
        self.successor: dict[_Handle, _Handle] = {}
        self.new_customers: list[_Handle] = []
        self.new_identities: list[tuple[IdentityRef, _Handle]] = []

    def load(self, refs: Sequence[IdentityRef]) -> None:
        unique = list(dict.fromkeys(refs))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            by_kind: dict[str, list[str]] = defaultdict(list)
            for ref in unique[start : start + _LOOKUP_CHUNK]:
                by_kind[ref.kind].append(ref.value)
            rows = self.session.execute(
                select(
                    Identity.kind,
                    Identity.value,
                    Customer.id,
                    Customer.merged_into_id,
                    Customer.mobile,
                    Customer.mobile_last4,
                    Customer.email,
                )
                .join(Customer, Customer.id == Identity.customer_id)
                .where(
                    Identity.workspace_id == self.workspace_id,
                    or_(
                        *(
                            and_(Identity.kind == kind, Identity.value.in_(values))
                            for kind, values in by_kind.items()
                        )
                    ),
                )
            )
            for kind, value, customer_id, merged_into_id, mobile, last4, email in rows:
                if merged_into_id is None:
                    handle = self._handle(customer_id, mobile, last4, email)
                else:
                    live = merging.live_customer(
                        self.session,
                        self.workspace_id,
                        _customer(self.session, self.workspace_id, customer_id),
                    )
                    handle = self._handle(live.id, live.mobile, live.mobile_last4, live.email)
                self.owner[IdentityRef(kind, value)] = handle

    def _handle(
        self, customer_id: int, mobile: str | None, last4: str | None, email: str | None
    ) -> _Handle:
        if customer_id not in self.handles:
            self.handles[customer_id] = _Handle(customer_id, mobile, last4, email)
        return self.handles[customer_id]

    def resolve(self, refs: list[IdentityRef], *, create: bool) -> _Outcome:
        owned = [(position, ref) for position, ref in enumerate(refs) if ref in self.owner]
        matched = list(dict.fromkeys(self.owner[ref] for _, ref in owned))
        if not matched:
            if not create or not refs:
                return _Outcome(None, False, [])
            handle = _Handle(None)
            self.new_customers.append(handle)
            self._attach(refs, handle)
            return _Outcome(handle, True, [])
        if len(matched) == 1:
            self._attach(refs, matched[0])
            return _Outcome(matched[0], False, [])
        strong = list(
            dict.fromkeys(self.owner[ref] for _, ref in owned if ref.kind in self.merge_kinds)
        )
        if len(strong) >= 2:
            linking = sorted(
                {ref.kind for _, ref in owned if ref.kind in self.merge_kinds}, key=self.rank
            )
            survivor, merged = self._merge(strong, reason=f"shared {', '.join(linking)}")
            self._attach(refs, survivor)
            return _Outcome(survivor, False, merged)
        _, strongest = min(owned, key=lambda item: (self.rank(item[1].kind), item[0]))
        target = self.owner[strongest]
        self._attach(refs, target)
        return _Outcome(target, False, [])

    def _attach(self, refs: list[IdentityRef], customer: _Handle) -> None:
        """Give the customer the identities nobody owns yet."""
        for ref in refs:
            if ref not in self.owner:
                self.owner[ref] = customer
                self.new_identities.append((ref, customer))
                customer.fill(ref)

    def _merge(self, customers: list[_Handle], *, reason: str) -> tuple[_Handle, list[_Handle]]:
        self.flush()
        survivor, *others = sorted(customers, key=_id_of)
        for other in others:
            merging.merge(
                self.session,
                self.workspace_id,
                _id_of(survivor),
                _id_of(other),
                reason=f"{self.source}: {reason}",
                actor=self.actor,
            )
            self.successor[other] = survivor
        gone = set(others)
        for ref, owner in self.owner.items():
            if owner in gone:
                self.owner[ref] = survivor
        # The merge may have filled the survivor's display columns from the merged customers.
        merged_survivor = _customer(self.session, self.workspace_id, _id_of(survivor))
        survivor.mobile, survivor.mobile_last4, survivor.email = (
            merged_survivor.mobile,
            merged_survivor.mobile_last4,
            merged_survivor.email,
        )
        return survivor, others

    def live(self, customer: _Handle) -> _Handle:
        while customer in self.successor:
            customer = self.successor[customer]
        return customer

    def flush(self) -> None:
        self.session.flush()
        if self.new_customers:
            self._insert_new_customers()
        self._update_filled_display()
        if self.new_identities:
            self.session.execute(
                insert(_IDENTITY_TABLE),
                [
                    {
                        "workspace_id": self.workspace_id,
                        "customer_id": customer.id,
                        "kind": ref.kind,
                        "value": ref.value,
                        "source": self.source,
                    }
                    for ref, customer in self.new_identities
                ],
            )
            self.new_identities = []

    def _insert_new_customers(self) -> None:
        """Insert the batch's new customers in one statement.

        Ids are taken up front, so the rows need no RETURNING (which SQLite cannot return in
        a known order for a batched INSERT).
        """
        customers, self.new_customers = self.new_customers, []
        for customer, new_id in zip(customers, self._take_ids(len(customers)), strict=True):
            customer.id = new_id
            customer.filled.clear()
            self.handles[new_id] = customer
        self.session.execute(
            insert(_CUSTOMER_TABLE),
            [
                {
                    "id": customer.id,
                    "workspace_id": self.workspace_id,
                    "source": self.source,
                    "mobile": customer.mobile,
                    "mobile_last4": customer.mobile_last4,
                    "email": customer.email,
                }
                for customer in customers
            ],
        )

    def _take_ids(self, count: int) -> list[int]:
        if self.session.get_bind().dialect.name == "postgresql":
            return sorted(
                self.session.scalars(
                    text(
                        "SELECT nextval(pg_get_serial_sequence('customer', 'id')) "
                        "FROM generate_series(1, :count)"
                    ),
                    {"count": count},
                )
            )
        # SQLite: the write transaction holds the database lock (BEGIN IMMEDIATE), so the
        # ids after the current maximum are ours. Ids span workspaces, hence no tenant filter.
        first = (self.session.scalar(select(func.max(Customer.id))) or 0) + 1
        return list(range(first, first + count))

    def _update_filled_display(self) -> None:
        """Existing customers whose empty mobile or email an identity now fills."""
        changed = [h for h in self.handles.values() if h.filled]
        table = _CUSTOMER_TABLE

        def still_empty(column: str) -> ColumnElement[bool]:
            return and_(
                table.c.workspace_id == self.workspace_id,
                table.c.id == bindparam("b_id"),
                or_(table.c[column].is_(None), table.c[column] == ""),
            )

        mobiles = [
            {"b_id": h.id, "b_mobile": h.mobile, "b_last4": h.mobile_last4}
            for h in changed
            if "mobile" in h.filled
        ]
        if mobiles:
            self.session.execute(
                update(table)
                .where(still_empty("mobile"))
                .values(mobile=bindparam("b_mobile"), mobile_last4=bindparam("b_last4")),
                mobiles,
            )
        emails = [{"b_id": h.id, "b_email": h.email} for h in changed if "email" in h.filled]
        if emails:
            self.session.execute(
                update(table).where(still_empty("email")).values(email=bindparam("b_email")),
                emails,
            )
        for handle in changed:
            handle.filled.clear()
        ids = {h.id for h in changed}
        for loaded in list(self.session.identity_map.values()):
            if isinstance(loaded, Customer) and loaded.id in ids:
                self.session.expire(loaded, ["mobile", "mobile_last4", "email"])


def _id_of(handle: _Handle) -> int:
    assert handle.id is not None, "customers are inserted before they take part in a merge"
    return handle.id


def _ranking(kinds: Sequence[str]) -> Callable[[str], int]:
    """Strength of a kind: merge kinds in their configured order, then the rest."""
    configured = {kind: rank for rank, kind in enumerate(kinds)}

    def rank(kind: str) -> int:
        return configured.get(kind, len(configured) + KIND_ORDER.get(kind, len(KIND_ORDER)))

    return rank
