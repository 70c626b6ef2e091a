"""The batch resolver behind `oneid.resolve_many`: a batch's identity owners held in
memory, new customers and identities written in bulk, merges as the rare slow path."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from siyu.customers import merging
from siyu.customers.identities import KIND_ORDER, IdentityKind
from siyu.db.bulk import among, insert_rows, take_ids
from siyu.exceptions import NotFound
from siyu.models import Customer, Identity

# An identity as (kind, value): an `IdentityRef` or a plain tuple (bulk imports).
Ref = tuple[str, str]
# New rows are written with `insert_rows`: the ORM's bulk path costs more per row than
# the database.
_CUSTOMER_TABLE = cast("Table", Customer.__table__)
_IDENTITY_TABLE = cast("Table", Identity.__table__)


def customer_row(session: Session, workspace_id: int, customer_id: int) -> Customer:
    customer = session.scalar(
        select(Customer).where(Customer.workspace_id == workspace_id, Customer.id == customer_id)
    )
    if customer is None:
        raise NotFound("customer")
    return customer


@dataclass(eq=False, slots=True)
class _Handle:
    """A customer as the batch sees it: an id (None until a new one is inserted) and the
    display columns it may fill. Compared by identity, one handle per customer."""

    id: int | None
    mobile: str | None = None
    mobile_last4: str | None = None
    email: str | None = None
    filled: set[str] = field(default_factory=set)

    def fill(self, kind: str, value: str) -> None:
        if kind == IdentityKind.MOBILE and not self.mobile:
            self.mobile, self.mobile_last4 = value, value[-4:]
            self.filled.add("mobile")
        elif kind == IdentityKind.EMAIL and not self.email:
            self.email = value
            self.filled.add("email")


class _Outcome(NamedTuple):
    customer: _Handle | None
    created: bool
    merged: list[_Handle]


_NOTHING = _Outcome(None, False, [])


class BatchResolver:
    """Owners of a batch's identities in memory; new rows written in bulk at `flush`."""

    def __init__(
        self,
        session: Session,
        workspace_id: int,
        *,
        merge_kinds: Sequence[str],
        source: str,
        actor: str,
    ) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.source = source
        self.actor = actor
        self.merge_kinds = list(merge_kinds)
        self.rank = _ranking(self.merge_kinds)
        self.merge_kind_set = frozenset(self.merge_kinds)
        self.owner: dict[Ref, _Handle] = {}
        self.handles: dict[int, _Handle] = {}
        self.successor: dict[_Handle, _Handle] = {}
        self.new_customers: list[_Handle] = []
        self.new_identities: list[tuple[Ref, _Handle]] = []

    def load(self, refs: Sequence[Ref]) -> None:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, value in dict.fromkeys(refs):
            by_kind[kind].append(value)
        if not by_kind:
            return
        # One SELECT per kind, in one statement: each uses the (workspace, kind, value)
        # index, which an OR of the kinds would not on SQLite.
        lookups = [
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
                Identity.kind == kind,
                among(self.session, Identity.value, values),
            )
            for kind, values in by_kind.items()
        ]
        rows = self.session.execute(lookups[0] if len(lookups) == 1 else union_all(*lookups))
        for kind, value, customer_id, merged_into_id, mobile, last4, email in rows:
            if merged_into_id is None:
                handle = self._handle(customer_id, mobile, last4, email)
            else:
                live = merging.live_customer(
                    self.session,
                    self.workspace_id,
                    customer_row(self.session, self.workspace_id, customer_id),
                )
                handle = self._handle(live.id, live.mobile, live.mobile_last4, live.email)
            self.owner[kind, value] = handle

    def _handle(
        self, customer_id: int, mobile: str | None, last4: str | None, email: str | None
    ) -> _Handle:
        if customer_id not in self.handles:
            self.handles[customer_id] = _Handle(customer_id, mobile, last4, email)
        return self.handles[customer_id]

    def resolve(self, refs: Sequence[Ref], *, create: bool) -> _Outcome:
        """A record's customer; its identities nobody owns yet are given to it."""
        owner = self.owner
        matched: _Handle | None = None
        for ref in refs:
            found = owner.get(ref)
            if found is None or found is matched:
                continue
            if matched is not None:
                return self._resolve_conflict(refs)
            matched = found
        if matched is not None:
            self._attach(refs, matched)
            return _Outcome(matched, False, [])
        if not create or not refs:
            return _NOTHING
        handle = _Handle(None)
        self.new_customers.append(handle)
        self._attach(refs, handle)
        return _Outcome(handle, True, [])

    def _resolve_conflict(self, refs: Sequence[Ref]) -> _Outcome:
        """The record's identities belong to several customers: merge the ones a strong
        identity links, else join the customer its strongest identity names."""
        owned = [(position, ref) for position, ref in enumerate(refs) if ref in self.owner]
        strong = list(
            dict.fromkeys(self.owner[ref] for _, ref in owned if ref[0] in self.merge_kind_set)
        )
        if len(strong) >= 2:
            linking = sorted(
                {ref[0] for _, ref in owned if ref[0] in self.merge_kind_set}, key=self.rank
            )
            survivor, merged = self._merge(strong, reason=f"shared {', '.join(linking)}")
            self._attach(refs, survivor)
            return _Outcome(survivor, False, merged)
        _, strongest = min(owned, key=lambda item: (self.rank(item[1][0]), item[0]))
        target = self.owner[strongest]
        self._attach(refs, target)
        return _Outcome(target, False, [])

    def _attach(self, refs: Sequence[Ref], customer: _Handle) -> None:
        """Give the customer the identities nobody owns yet."""
        owner = self.owner
        for ref in refs:
            if ref not in owner:
                owner[ref] = customer
                self.new_identities.append((ref, customer))
                customer.fill(*ref)

    def _merge(self, customers: list[_Handle], *, reason: str) -> tuple[_Handle, list[_Handle]]:
        self.flush()
        survivor, *others = sorted(customers, key=id_of)
        for other in others:
            merging.merge(
                self.session,
                self.workspace_id,
                id_of(survivor),
                id_of(other),
                reason=f"{self.source}: {reason}",
                actor=self.actor,
            )
            self.successor[other] = survivor
        gone = set(others)
        for ref, owner in self.owner.items():
            if owner in gone:
                self.owner[ref] = survivor
        # The merge may have filled the survivor's display columns from the merged customers.
        merged_survivor = customer_row(self.session, self.workspace_id, id_of(survivor))
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
            insert_rows(
                self.session,
                _IDENTITY_TABLE,
                [
                    {
                        "workspace_id": self.workspace_id,
                        "customer_id": customer.id,
                        "kind": ref[0],
                        "value": ref[1],
                        "source": self.source,
                    }
                    for ref, customer in self.new_identities
                ],
            )
            self.new_identities = []

    def _insert_new_customers(self) -> None:
        """Insert the batch's new customers in one statement, their ids taken up front."""
        customers, self.new_customers = self.new_customers, []
        for customer, new_id in zip(
            customers, take_ids(self.session, _CUSTOMER_TABLE, len(customers)), strict=True
        ):
            customer.id = new_id
            customer.filled.clear()
            self.handles[new_id] = customer
        insert_rows(
            self.session,
            _CUSTOMER_TABLE,
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


def id_of(handle: _Handle) -> int:
    assert handle.id is not None, "customers are inserted before they take part in a merge"
    return handle.id


def _ranking(kinds: Sequence[str]) -> Callable[[str], int]:
    """Strength of a kind: merge kinds in their configured order, then the rest."""
    configured = {kind: rank for rank, kind in enumerate(kinds)}

    def rank(kind: str) -> int:
        return configured.get(kind, len(configured) + KIND_ORDER.get(kind, len(KIND_ORDER)))

    return rank
