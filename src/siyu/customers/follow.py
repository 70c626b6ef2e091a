"""Follow relations: which staff member follows which customer, since when and how."""

from datetime import datetime

from sqlalchemy.orm import Session

from siyu.customers import changes as changed_customers
from siyu.customers.repository import CustomerRepository
from siyu.customers.schemas import (
    CustomerListItem,
    FollowRelationCreate,
    FollowRelationOut,
    FollowRelationUpdate,
    FollowStatus,
)
from siyu.customers.service import CustomerQuery, get_customer, list_customers
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import PageOut
from siyu.kit.time import utcnow
from siyu.models import FollowRelation
from siyu.workspace.principal import Principal


def _out(relation: FollowRelation, staff_name: str | None) -> FollowRelationOut:
    out = FollowRelationOut.model_validate(relation)
    out.staff_name = staff_name
    return out


def _staff_name(repo: CustomerRepository, workspace_id: int, staff_id: int) -> str:
    name = repo.staff_name(workspace_id, staff_id)
    if name is None:
        raise NotFound("staff member", {"field": "staff_id"})
    return name


def follow_relations(
    session: Session, principal: Principal, customer_id: int
) -> list[FollowRelationOut]:
    customer = get_customer(session, principal, customer_id)
    rows = CustomerRepository(session).follow_relations(principal.workspace_id, customer.id)
    return [_out(relation, name) for relation, name in rows]


def upsert_follow_relation(
    session: Session,
    workspace_id: int,
    customer_id: int,
    staff_id: int,
    *,
    added_at: datetime,
    remark: str | None = None,
    description: str | None = None,
    add_way: str | None = None,
    state: str | None = None,
    status: str = FollowStatus.ACTIVE,
) -> tuple[FollowRelation, bool]:
    """Record the relation as a source (WeCom sync, import) reports it; True when new."""
    relation = CustomerRepository(session).follow_relation_of(workspace_id, customer_id, staff_id)
    created = relation is None
    if relation is None:
        relation = FollowRelation(
            workspace_id=workspace_id, customer_id=customer_id, staff_id=staff_id
        )
        session.add(relation)
    relation.added_at = added_at
    relation.remark = remark
    relation.description = description
    relation.add_way = add_way
    relation.state = state
    relation.status = FollowStatus(status).value
    session.flush()
    changed_customers.mark_changed(session, workspace_id, [customer_id])
    return relation, created


def add_follow_relation(
    session: Session, principal: Principal, customer_id: int, data: FollowRelationCreate
) -> FollowRelationOut:
    customer = get_customer(session, principal, customer_id)
    repo = CustomerRepository(session)
    name = _staff_name(repo, principal.workspace_id, data.staff_id)
    existing = repo.follow_relation_of(principal.workspace_id, customer.id, data.staff_id)
    if existing is not None:
        raise Conflict(
            "this staff member already has a follow relation with the customer",
            {"field": "staff_id", "id": existing.id},
        )
    relation, _ = upsert_follow_relation(
        session,
        principal.workspace_id,
        customer.id,
        data.staff_id,
        added_at=data.added_at or utcnow(),
        remark=data.remark,
        description=data.description,
        add_way=data.add_way,
        state=data.state,
        status=data.status,
    )
    return _out(relation, name)


def _relation_in_scope(session: Session, principal: Principal, relation_id: int) -> FollowRelation:
    relation = CustomerRepository(session).follow_relation(principal.workspace_id, relation_id)
    if relation is None:
        raise NotFound("follow relation")
    try:
        get_customer(session, principal, relation.customer_id)
    except NotFound:
        raise NotFound("follow relation") from None
    return relation


def update_follow_relation(
    session: Session, principal: Principal, relation_id: int, changes: FollowRelationUpdate
) -> FollowRelationOut:
    relation = _relation_in_scope(session, principal, relation_id)
    for name, value in changes.model_dump(exclude_unset=True).items():
        if name == "status" and value is None:
            raise ValidationFailed("status", "must not be null")
        setattr(relation, name, value.value if isinstance(value, FollowStatus) else value)
    session.flush()
    changed_customers.mark_changed(session, principal.workspace_id, [relation.customer_id])
    repo = CustomerRepository(session)
    return _out(relation, repo.staff_name(principal.workspace_id, relation.staff_id))


def delete_follow_relation(session: Session, principal: Principal, relation_id: int) -> None:
    relation = _relation_in_scope(session, principal, relation_id)
    session.delete(relation)
    session.flush()
    changed_customers.mark_changed(session, principal.workspace_id, [relation.customer_id])


def followed_counts(session: Session, workspace_id: int, staff_ids: list[int]) -> dict[int, int]:
    """How many live customers each of these staff members actively follows (one query)."""
    return CustomerRepository(session).followed_counts(workspace_id, staff_ids)


def staff_customers(
    session: Session,
    principal: Principal,
    staff_id: int,
    *,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> PageOut[CustomerListItem]:
    """The customers a staff member actively follows (within the caller's own scope)."""
    _staff_name(CustomerRepository(session), principal.workspace_id, staff_id)
    query = CustomerQuery(staff_id=staff_id, sort=sort, cursor=cursor, limit=limit)
    return list_customers(session, principal, query)
