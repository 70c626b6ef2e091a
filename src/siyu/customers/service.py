"""Customer profiles: create through OneID, read within the data scope, update, delete, list."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu.customers import changes as changed_customers
from siyu.customers import custom_fields, identities, merging, oneid, stages
from siyu.customers.custom_fields import FieldType
from siyu.customers.identities import IdentityKind, IdentityRef
from siyu.customers.repository import (
    CustomCondition,
    CustomerFilter,
    CustomerRepository,
    Scope,
    Search,
)
from siyu.customers.schemas import (
    Customer360,
    CustomerCreate,
    CustomerCreated,
    CustomerListItem,
    CustomerOut,
    CustomerStats,
    CustomFieldValue,
    FollowRelationOut,
    IdentityOut,
    MergeOut,
    ProfileChanges,
    TimelineEntryOut,
    TimelinePage,
)
from siyu.customers.stats import aov_fen
from siyu.exceptions import NotFound, ValidationFailed
from siyu.kit.pagination import PageOut, SortSpec, check_limit, decode_cursor, encode_cursor
from siyu.kit.timeline import TimelineCursor, TimelineEntry, newest_first
from siyu.models import Customer
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.roles import Role

SORTS = ("created_at", "last_active_at", "last_order_at", "total_paid_fen")
DEFAULT_SORT = "-created_at"
LAST4 = re.compile(r"^\d{4}$")
PHONE_LIKE = re.compile(r"^\+?\d{7,15}$")
# Columns a profile change may set directly, after `_clean_profile`.
PROFILE_COLUMNS = (
    "name",
    "gender",
    "birthday",
    "mobile",
    "email",
    "province",
    "city",
    "avatar_url",
    "lifecycle_stage",
    "source",
    "remark",
)


def masks_pii(principal: Principal) -> bool:
    """Viewers see mobile numbers and emails only masked."""
    return principal.role is Role.VIEWER


def _pydantic_error(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    first = exc.errors()[0]
    path = ".".join(str(part) for part in first["loc"]) or "body"
    return ValidationFailed(f"{prefix}{path}", first["msg"])


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _clean_profile(
    session: Session, workspace_id: int, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Validated column values for the fields present in `changes` (custom fields unmerged)."""
    try:
        parsed = ProfileChanges.model_validate(dict(changes))
    except ValidationError as exc:
        raise _pydantic_error(exc) from None
    sent = parsed.model_dump(exclude_unset=True)
    cleaned: dict[str, Any] = {}
    for name, raw in sent.items():
        value = _blank_to_none(raw)
        if name == "mobile":
            mobile = (
                None
                if value is None
                else identities.normalize(IdentityKind.MOBILE, value, field="mobile").value
            )
            cleaned["mobile"] = mobile
            cleaned["mobile_last4"] = mobile[-4:] if mobile else None
        elif name == "email":
            cleaned["email"] = (
                None
                if value is None
                else identities.normalize(IdentityKind.EMAIL, value, field="email").value
            )
        elif name == "lifecycle_stage":
            if value is None:
                raise ValidationFailed("lifecycle_stage", "must not be empty")
            cleaned[name] = value
        elif name == "custom_fields":
            definitions = custom_fields.definitions(session, workspace_id)
            cleaned[name] = custom_fields.validate_values(definitions, value or {})
        else:
            cleaned[name] = value
    return cleaned


def _apply(customer: Customer, cleaned: Mapping[str, Any], *, only_missing: bool) -> None:
    for name, value in cleaned.items():
        if name == "custom_fields":
            current = customer.custom_fields or {}
            wanted = {k: v for k, v in value.items() if not only_missing or k not in current}
            customer.custom_fields = custom_fields.apply_values(current, wanted)
        elif not only_missing or getattr(customer, name) in (None, ""):
            setattr(customer, name, value)


def customer_out(customer: Customer, *, masked: bool) -> CustomerOut:
    return CustomerOut(**_listed(customer, masked=masked).model_dump(), **_detail(customer))


def _detail(customer: Customer) -> dict[str, Any]:
    return {
        "birthday": customer.birthday,
        "custom_fields": dict(customer.custom_fields or {}),
        "updated_at": customer.updated_at,
    }


def _listed(customer: Customer, *, masked: bool) -> CustomerListItem:
    mobile, email = customer.mobile, customer.email
    if masked:
        mobile = identities.mask(IdentityKind.MOBILE, mobile) if mobile else None
        email = identities.mask(IdentityKind.EMAIL, email) if email else None
    return CustomerListItem(
        id=customer.id,
        name=customer.name,
        gender=customer.gender,
        mobile=mobile,
        email=email,
        avatar_url=customer.avatar_url,
        province=customer.province,
        city=customer.city,
        lifecycle_stage=customer.lifecycle_stage,
        source=customer.source,
        remark=customer.remark,
        order_count=customer.order_count,
        total_paid_fen=customer.total_paid_fen,
        last_order_at=customer.last_order_at,
        last_active_at=customer.last_active_at,
        created_at=customer.created_at,
    )


# --- reading ---------------------------------------------------------------------------


def get_customer(session: Session, principal: Principal, customer_id: int) -> Customer:
    """A live customer the principal may see; merged ones name their survivor in the error."""
    repo = CustomerRepository(session)
    scope = Scope.of(principal)
    customer = repo.get(scope, customer_id)
    if customer is not None:
        return customer
    survivor = repo.survivor_of(principal.workspace_id, customer_id)
    if survivor is not None and repo.get(scope, survivor) is not None:
        raise NotFound("customer", {"merged_into_id": survivor})
    raise NotFound("customer")


def listed_customers(
    session: Session, principal: Principal, ids: Sequence[int]
) -> list[CustomerListItem]:
    """List items of the given customers the principal may see (PII masked by role)."""
    customers = CustomerRepository(session).visible(Scope.of(principal), ids)
    masked = masks_pii(principal)
    return [_listed(customer, masked=masked) for customer in customers]


def require_customer_ids(session: Session, workspace_id: int, ids: Sequence[int]) -> list[int]:
    """The ids, each once in the given order, if all are live customers of the workspace."""
    unique = list(dict.fromkeys(ids))
    found = CustomerRepository(session).live_ids(workspace_id, unique)
    for customer_id in unique:
        if customer_id not in found:
            raise NotFound("customer", {"id": customer_id})
    return unique


def live_customer_ids(session: Session, workspace_id: int, ids: Sequence[int]) -> dict[int, int]:
    """Each given id that exists in the workspace -> the live customer standing for it now."""
    repo = CustomerRepository(session)
    pointers = repo.merge_pointers(workspace_id, ids)
    live: dict[int, int] = {}
    for customer_id in ids:
        current, seen = customer_id, set[int]()
        while current in pointers and current not in seen:
            seen.add(current)
            target = pointers[current]
            if target is None:
                live[customer_id] = current
                break
            if target not in pointers:
                pointers.update(repo.merge_pointers(workspace_id, [target]))
            current = target
    return live


def get_customer_out(session: Session, principal: Principal, customer_id: int) -> CustomerOut:
    return customer_out(get_customer(session, principal, customer_id), masked=masks_pii(principal))


@dataclass(frozen=True)
class CustomerQuery:
    q: str | None = None
    tag_ids: Sequence[int] = ()
    any_tag_ids: Sequence[int] = ()
    staff_id: int | None = None
    stage: str | None = None
    source: str | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)
    created_from: datetime | None = None
    created_to: datetime | None = None
    last_order_from: datetime | None = None
    last_order_to: datetime | None = None
    last_active_from: datetime | None = None
    last_active_to: datetime | None = None
    sort: str | None = None
    cursor: str | None = None
    limit: int = 50


def parse_search(q: str | None) -> Search:
    """`q` is a mobile number (full or its last 4 digits) or a name or remark prefix."""
    text = (q or "").strip()
    if not text:
        return Search()
    compact = re.sub(r"[\s\-]", "", text)
    if LAST4.match(compact):
        return Search(mobile_last4=compact)
    if PHONE_LIKE.match(compact):
        try:
            return Search(mobile=identities.normalize(IdentityKind.MOBILE, compact).value)
        except ValidationFailed:
            pass
    return Search(prefix=text)


def _custom_conditions(
    session: Session, workspace_id: int, custom: Mapping[str, Any]
) -> list[CustomCondition]:
    if not custom:
        return []
    definitions = custom_fields.definitions(session, workspace_id)
    conditions = []
    for key, raw in custom.items():
        definition = definitions.get(key)
        name = f"cf.{key}"
        if definition is None:
            raise ValidationFailed(name, "no such custom field")
        value = custom_fields.coerce_value(definition, raw, name=name)
        if isinstance(value, list):
            if len(value) != 1:
                raise ValidationFailed(name, "filter by one option at a time")
            value = value[0]
        conditions.append(CustomCondition(definition, value))
    return conditions


def list_customers(
    session: Session, principal: Principal, query: CustomerQuery
) -> PageOut[CustomerListItem]:
    for name, start, end in (
        ("created", query.created_from, query.created_to),
        ("last_order", query.last_order_from, query.last_order_to),
        ("last_active", query.last_active_from, query.last_active_to),
    ):
        if start is not None and end is not None and start >= end:
            raise ValidationFailed(f"{name}_to", f"must be after {name}_from")
    sort = SortSpec.parse(query.sort, SORTS, DEFAULT_SORT)
    customer_filter = CustomerFilter(
        search=parse_search(query.q),
        tag_ids=list(dict.fromkeys(query.tag_ids)),
        any_tag_ids=list(dict.fromkeys(query.any_tag_ids)),
        staff_id=query.staff_id,
        stage=query.stage,
        source=query.source,
        custom=_custom_conditions(session, principal.workspace_id, query.custom),
        created_from=query.created_from,
        created_to=query.created_to,
        last_order_from=query.last_order_from,
        last_order_to=query.last_order_to,
        last_active_from=query.last_active_from,
        last_active_to=query.last_active_to,
    )
    rows, next_cursor = CustomerRepository(session).page(
        Scope.of(principal),
        customer_filter,
        sort_field=sort.field,
        descending=sort.descending,
        cursor=query.cursor,
        limit=query.limit,
    )
    masked = masks_pii(principal)
    return PageOut(items=[_listed(c, masked=masked) for c in rows], next_cursor=next_cursor)


# --- writing ---------------------------------------------------------------------------


def _identity_refs(data: CustomerCreate, cleaned: Mapping[str, Any]) -> list[IdentityRef]:
    refs = [
        identities.normalize(i.kind, i.value, field=f"identities[{index}].value")
        for index, i in enumerate(data.identities)
    ]
    if cleaned.get("mobile"):
        refs.append(IdentityRef(IdentityKind.MOBILE.value, cleaned["mobile"]))
    if cleaned.get("email"):
        refs.append(IdentityRef(IdentityKind.EMAIL.value, cleaned["email"]))
    return list(dict.fromkeys(refs))


def _profile_from_identities(refs: Sequence[IdentityRef], cleaned: dict[str, Any]) -> None:
    """A mobile or email identity also fills the profile's contact field when none was sent."""
    for ref in refs:
        if ref.kind == IdentityKind.MOBILE and not cleaned.get("mobile"):
            cleaned["mobile"], cleaned["mobile_last4"] = ref.value, ref.value[-4:]
        elif ref.kind == IdentityKind.EMAIL and not cleaned.get("email"):
            cleaned["email"] = ref.value


def create_customer(
    session: Session,
    workspace_id: int,
    data: CustomerCreate,
    *,
    source: str,
    actor: str,
) -> tuple[Customer, CustomerCreated]:
    """Create a customer, or join the existing one its identities already belong to.

    An existing customer keeps its profile; only its empty fields are filled.
    """
    profile = data.model_dump(exclude_unset=True, exclude={"identities"})
    cleaned = _clean_profile(session, workspace_id, profile)
    refs = _identity_refs(data, cleaned)
    _profile_from_identities(refs, cleaned)
    if refs:
        resolution = oneid.resolve(session, workspace_id, refs, source=source, actor=actor)
        customer = session.get(Customer, resolution.customer_id)
        assert customer is not None, "resolve(create=True) always yields a customer"
        created, merged = resolution.created, list(resolution.merged_customer_ids)
    else:
        customer = Customer(workspace_id=workspace_id, custom_fields={})
        session.add(customer)
        created, merged = True, []
    stage_before = None if created else customer.lifecycle_stage
    _apply(customer, cleaned, only_missing=not created)
    session.flush()
    stages.record(
        session, workspace_id, customer.id, stage_before, customer.lifecycle_stage, source=source
    )
    changed_customers.mark_changed(session, workspace_id, [customer.id])
    result = CustomerCreated(
        customer=customer_out(customer, masked=False),
        created=created,
        merged_customer_ids=merged,
    )
    return customer, result


def update_profile(
    session: Session, principal: Principal, customer_id: int, changes: Mapping[str, Any]
) -> Customer:
    """Change profile fields and custom field values; errors name the field."""
    customer = get_customer(session, principal, customer_id)
    cleaned = _clean_profile(session, principal.workspace_id, changes)
    stage_before = customer.lifecycle_stage
    _apply(customer, cleaned, only_missing=False)
    stages.record(
        session,
        principal.workspace_id,
        customer.id,
        stage_before,
        customer.lifecycle_stage,
        source="manual",
    )
    changed_customers.mark_changed(session, principal.workspace_id, [customer.id])
    session.flush()
    return customer


def delete_customer(session: Session, principal: Principal, customer_id: int) -> None:
    """Delete a customer with everything that belongs to it, and the customers merged into it."""
    customer = get_customer(session, principal, customer_id)
    doomed = [customer.id]
    frontier = [customer.id]
    while frontier:
        frontier = list(
            session.scalars(
                select(Customer.id).where(
                    Customer.workspace_id == principal.workspace_id,
                    Customer.merged_into_id.in_(frontier),
                )
            )
        )
        doomed += frontier
    workspace_service.audit(
        session,
        principal,
        "customer.delete",
        target_type="customer",
        target_id=customer.id,
        details={"name": customer.name, "merged_ids": doomed[1:]},
    )
    tags_service.customers_leaving(session, principal.workspace_id, doomed)
    session.execute(
        delete(Customer)
        .where(Customer.workspace_id == principal.workspace_id, Customer.id.in_(doomed))
        .execution_options(synchronize_session=False)
    )
    session.expunge(customer)


# --- Customer 360 and timeline ---------------------------------------------------------


def customer_360(session: Session, principal: Principal, customer_id: int) -> Customer360:
    """Everything known about one customer, in one response."""
    customer = get_customer(session, principal, customer_id)
    masked = masks_pii(principal)
    workspace_id = principal.workspace_id
    definitions = custom_fields.list_fields(session, workspace_id)
    values = customer.custom_fields or {}
    known = [
        IdentityOut(
            kind=identity.kind,
            value=identities.mask(identity.kind, identity.value) if masked else identity.value,
            source=identity.source,
        )
        for identity in oneid.identities_of(session, workspace_id, customer.id)
    ]
    relations = CustomerRepository(session).follow_relations(workspace_id, customer.id)
    return Customer360(
        profile=customer_out(customer, masked=masked),
        custom_fields=[
            CustomFieldValue(
                key=d.key,
                label=d.label,
                field_type=FieldType(d.field_type),
                value=values.get(d.key),
            )
            for d in definitions
        ],
        identities=known,
        follow_relations=[
            FollowRelationOut.model_validate(r).model_copy(update={"staff_name": name})
            for r, name in relations
        ],
        tags=tags_service.tags_of(session, workspace_id, customer.id),
        stats=CustomerStats(
            order_count=customer.order_count,
            total_paid_fen=customer.total_paid_fen,
            aov_fen=aov_fen(customer.order_count, customer.total_paid_fen),
            first_order_at=customer.first_order_at,
            last_order_at=customer.last_order_at,
            last_active_at=customer.last_active_at,
        ),
        merge_history=[
            MergeOut.model_validate(record, from_attributes=True)
            for record in merging.merge_history(session, workspace_id, customer.id)
        ],
    )


class TimelineSource(Protocol):
    def __call__(
        self,
        session: Session,
        workspace_id: int,
        customer_id: int,
        *,
        before: TimelineCursor | None,
        limit: int,
    ) -> list[TimelineEntry]: ...


def _timeline_sources() -> list[TimelineSource]:
    # Events, commerce and tasks call this domain's services, so they are imported only here.
    from siyu.commerce import service as commerce_service  # noqa: PLC0415
    from siyu.events import service as events_service  # noqa: PLC0415
    from siyu.tasks import service as tasks_service  # noqa: PLC0415

    return [
        events_service.timeline_entries,
        commerce_service.timeline_entries,
        tags_service.timeline_entries,
        tasks_service.timeline_entries,
    ]


def _decode_timeline_cursor(cursor: str) -> TimelineCursor:
    occurred_at, kind, entry_id = decode_cursor(cursor, 3)
    if not (
        isinstance(occurred_at, datetime) and isinstance(kind, str) and isinstance(entry_id, int)
    ):
        raise ValidationFailed("cursor", "malformed cursor")
    return TimelineCursor(occurred_at, kind, entry_id)


def timeline(
    session: Session, principal: Principal, customer_id: int, *, cursor: str | None, limit: int
) -> TimelinePage:
    """Events, orders, tag changes and follow-up notes in one list, newest first."""
    check_limit(limit)
    customer = get_customer(session, principal, customer_id)
    before = _decode_timeline_cursor(cursor) if cursor else None
    entries: list[TimelineEntry] = []
    for source in _timeline_sources():
        entries += source(
            session, principal.workspace_id, customer.id, before=before, limit=limit + 1
        )
    ordered = newest_first(entries, limit + 1)
    page = ordered[:limit]
    next_cursor = None
    if len(ordered) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last.occurred_at, last.kind, last.id])
    return TimelinePage(
        items=[
            TimelineEntryOut(
                kind=e.kind, id=e.id, occurred_at=e.occurred_at, title=e.title, data=e.data
            )
            for e in page
        ],
        next_cursor=next_cursor,
    )
