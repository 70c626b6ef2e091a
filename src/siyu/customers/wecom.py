"""Customers, follow relations and lost customers as WeCom reports them (customer groups:
`customers/groups.py`).

The WeCom sync (connectors/wecom/sync.py) and its callback handlers call these with plain
records; every function writes a page in a constant number of statements.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from siyu.customers import changes, oneid
from siyu.customers.identities import IdentityKind, normalize
from siyu.customers.schemas import FollowStatus, Gender
from siyu.kit.pagination import SortSpec, paginate
from siyu.kit.time import utcnow
from siyu.models import (
    Customer,
    FollowLoss,
    FollowRelation,
    FollowRelationTag,
    Identity,
    Staff,
)
from siyu.tags import service as tags_service
from siyu.worker.queue import enqueue

SOURCE = "wecom"
CHUNK = 1000
# WeCom gender (0 unknown, 1 male, 2 female) → ours.
GENDERS = {0: Gender.UNKNOWN, 1: Gender.MALE, 2: Gender.FEMALE}


@dataclass(frozen=True)
class WecomContactRecord:
    external_userid: str
    name: str = ""
    unionid: str | None = None
    avatar: str = ""
    gender: int = 0


@dataclass(frozen=True)
class WecomFollowRecord:
    external_userid: str
    staff_id: int
    added_at: datetime
    remark: str = ""
    description: str = ""
    add_way: int = 0
    state: str | None = None
    tag_ids: tuple[int, ...] = field(default=())


def _chunks(values: Sequence[object], size: int = CHUNK) -> Iterable[Sequence[object]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def customer_ids_by_external_userid(
    session: Session, workspace_id: int, external_userids: Iterable[str]
) -> dict[str, int]:
    """external_userid -> live customer id, for the contacts Siyu knows."""
    wanted = sorted(set(external_userids))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Identity.value, Identity.customer_id).where(
                Identity.workspace_id == workspace_id,
                Identity.kind == IdentityKind.WECOM_EXTERNAL_USERID.value,
                Identity.value.in_(chunk),
            )
        )
        found.update({str(value): customer_id for value, customer_id in rows})
    return found


def upsert_wecom_contacts(
    session: Session, workspace_id: int, records: Sequence[WecomContactRecord]
) -> tuple[dict[str, int], int]:
    """Resolve each contact through OneID (external_userid, plus unionid when WeCom gives
    one, so a contact already known from WeChat joins that customer) and refresh the
    customer's name, avatar and gender. Returns (external_userid -> customer id, created)."""
    unique = list({record.external_userid: record for record in records}.values())
    if not unique:
        return {}, 0
    batch = []
    for record in unique:
        refs = [normalize(IdentityKind.WECOM_EXTERNAL_USERID, record.external_userid)]
        if record.unionid:
            refs.append(normalize(IdentityKind.WECHAT_UNIONID, record.unionid))
        batch.append(refs)
    resolutions = oneid.resolve_many(session, workspace_id, batch, source=SOURCE, actor=SOURCE)
    ids = {
        record.external_userid: resolution.customer_id
        for record, resolution in zip(unique, resolutions, strict=True)
        if resolution.customer_id is not None
    }
    created = sum(1 for resolution in resolutions if resolution.created)
    customers = {
        c.id: c
        for chunk in _chunks(sorted(set(ids.values())))
        for c in session.scalars(
            select(Customer).where(Customer.workspace_id == workspace_id, Customer.id.in_(chunk))
        )
    }
    for record in unique:
        customer = customers.get(ids.get(record.external_userid, 0))
        if customer is None:
            continue
        name = record.name[:100] or customer.name
        avatar = record.avatar[:500] or customer.avatar_url
        gender = GENDERS.get(record.gender, Gender.UNKNOWN).value
        if (customer.name, customer.avatar_url, customer.gender) != (name, avatar, gender):
            customer.name, customer.avatar_url, customer.gender = name, avatar, gender
        if customer.source is None:
            customer.source = SOURCE
    session.flush()
    return ids, created


def upsert_wecom_follows(
    session: Session,
    workspace_id: int,
    records: Sequence[WecomFollowRecord],
    customer_ids: dict[str, int],
) -> dict[str, int]:
    """Upsert the follow relations WeCom lists (active), replace each one's WeCom tags and
    set the customers' WeCom-mirrored tags to the union over their active relations.

    Every relation listed gets `updated_at` now, which lets a complete sync find the active
    relations WeCom no longer lists (`end_unlisted_follows`). Returns counts.
    """
    now = utcnow()
    counts = {"created": 0, "updated": 0, "reactivated": 0}
    wanted = {
        (customer_ids[r.external_userid], r.staff_id): r
        for r in records
        if r.external_userid in customer_ids
    }
    if not wanted:
        return counts | {"tags_added": 0, "tags_removed": 0}
    customers = sorted({customer_id for customer_id, _ in wanted})
    existing: dict[tuple[int, int], FollowRelation] = {}
    for chunk in _chunks(customers):
        for row in session.scalars(
            select(FollowRelation).where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.customer_id.in_(chunk),
            )
        ):
            existing[(row.customer_id, row.staff_id)] = row
    ended_at = _customer_deletions(session, workspace_id, list(existing.values()))
    for key, record in wanted.items():
        relation = existing.get(key)
        if (
            relation is not None
            and relation.id in ended_at
            and record.added_at <= ended_at[relation.id]
        ):
            # WeCom keeps listing a relation the customer deleted (one-sided); only a
            # re-add, listed with a later createtime, makes it active again.
            continue
        if relation is None:
            relation = FollowRelation(
                workspace_id=workspace_id, customer_id=key[0], staff_id=key[1]
            )
            session.add(relation)
            existing[key] = relation
            counts["created"] += 1
        elif relation.status != FollowStatus.ACTIVE:
            counts["reactivated"] += 1
        elif (relation.remark or "", relation.description or "") != (
            record.remark,
            record.description,
        ):
            counts["updated"] += 1
        relation.remark = record.remark[:100] or None
        relation.description = record.description[:500] or None
        relation.added_at = record.added_at
        relation.add_way = str(record.add_way)
        relation.state = (record.state or "")[:64] or None
        relation.status = FollowStatus.ACTIVE.value
        relation.updated_at = now
    session.flush()
    relation_ids = [existing[key].id for key in wanted]
    for chunk in _chunks(relation_ids):
        session.execute(
            delete(FollowRelationTag).where(
                FollowRelationTag.workspace_id == workspace_id,
                FollowRelationTag.follow_relation_id.in_(chunk),
            )
        )
    rows = [
        {"workspace_id": workspace_id, "follow_relation_id": existing[key].id, "tag_id": tag_id}
        for key, record in wanted.items()
        for tag_id in sorted(set(record.tag_ids))
    ]
    if rows:
        session.execute(insert(FollowRelationTag), rows)
    tag_counts = refresh_customer_wecom_tags(session, workspace_id, customers)
    changes.mark_changed(session, workspace_id, customers)
    return counts | {"tags_added": tag_counts["added"], "tags_removed": tag_counts["removed"]}


def _customer_deletions(
    session: Session, workspace_id: int, relations: Sequence[FollowRelation]
) -> dict[int, datetime]:
    """When the customer deleted the staff member, for relations ended that way."""
    ended = [r.id for r in relations if r.status == FollowStatus.DELETED_BY_CUSTOMER]
    if not ended:
        return {}
    rows = session.execute(
        select(FollowLoss.follow_relation_id, func.max(FollowLoss.occurred_at))
        .where(
            FollowLoss.workspace_id == workspace_id,
            FollowLoss.follow_relation_id.in_(ended),
            FollowLoss.deleted_by == "customer",
        )
        .group_by(FollowLoss.follow_relation_id)
    )
    return {relation_id: at for relation_id, at in rows if relation_id is not None}


def refresh_customer_wecom_tags(
    session: Session, workspace_id: int, customer_ids: Sequence[int]
) -> dict[str, int]:
    """Set these customers' WeCom-mirrored tags to the union of their active relations' tags.

    A customer with no active relation keeps the tags it has (a lost customer stays findable
    by them; a customer tagged in Siyu before any WeCom relation keeps Siyu's tags)."""
    union: dict[int, set[int]] = {}
    for chunk in _chunks(list(customer_ids)):
        rows = session.execute(
            select(FollowRelation.customer_id, FollowRelationTag.tag_id)
            .outerjoin(FollowRelationTag, FollowRelationTag.follow_relation_id == FollowRelation.id)
            .where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.customer_id.in_(chunk),
                FollowRelation.status == FollowStatus.ACTIVE.value,
            )
        )
        for customer_id, tag_id in rows:
            tags = union.setdefault(customer_id, set())
            if tag_id is not None:
                tags.add(tag_id)
    return tags_service.set_wecom_customer_tags(session, workspace_id, union)


def set_relation_tags(
    session: Session, workspace_id: int, relation: FollowRelation, tag_ids: Iterable[int]
) -> None:
    """Replace one relation's WeCom tags and refresh its customer's mirrored tags."""
    session.execute(
        delete(FollowRelationTag).where(
            FollowRelationTag.workspace_id == workspace_id,
            FollowRelationTag.follow_relation_id == relation.id,
        )
    )
    rows = [
        {"workspace_id": workspace_id, "follow_relation_id": relation.id, "tag_id": tag_id}
        for tag_id in sorted(set(tag_ids))
    ]
    if rows:
        session.execute(insert(FollowRelationTag), rows)
    refresh_customer_wecom_tags(session, workspace_id, [relation.customer_id])


def relation_of(
    session: Session, workspace_id: int, customer_id: int, staff_id: int
) -> FollowRelation | None:
    return session.scalar(
        select(FollowRelation).where(
            FollowRelation.workspace_id == workspace_id,
            FollowRelation.customer_id == customer_id,
            FollowRelation.staff_id == staff_id,
        )
    )


def relations_of_customer(
    session: Session, workspace_id: int, customer_id: int
) -> list[FollowRelation]:
    return list(
        session.scalars(
            select(FollowRelation).where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.customer_id == customer_id,
            )
        )
    )


def end_follow(
    session: Session,
    relation: FollowRelation,
    *,
    deleted_by: str,
    occurred_at: datetime,
    detected_by: str,
) -> FollowLoss | None:
    """End an active relation and record the lost customer; an ended one is left alone, so
    a repeated delete callback records nothing twice. Returns the loss recorded, if any."""
    if relation.status != FollowStatus.ACTIVE:
        return None
    relation.status = (
        FollowStatus.DELETED_BY_STAFF.value
        if deleted_by == "staff"
        else FollowStatus.DELETED_BY_CUSTOMER.value
    )
    department_id = session.scalar(select(Staff.department_id).where(Staff.id == relation.staff_id))
    loss = FollowLoss(
        workspace_id=relation.workspace_id,
        follow_relation_id=relation.id,
        customer_id=relation.customer_id,
        staff_id=relation.staff_id,
        department_id=department_id,
        deleted_by=deleted_by,
        detected_by=detected_by,
        occurred_at=occurred_at,
    )
    session.add(loss)
    session.flush()
    enqueue(session, LOSS_ALERT_JOB, {"loss_id": loss.id}, workspace_id=relation.workspace_id)
    refresh_customer_wecom_tags(session, relation.workspace_id, [relation.customer_id])
    changes.mark_changed(session, relation.workspace_id, [relation.customer_id])
    return loss


def end_unlisted_follows(
    session: Session, workspace_id: int, *, staff_ids: Sequence[int], listed_before: datetime
) -> list[FollowLoss]:
    """After a complete read of these staff members' customers: their active relations
    WeCom did not list (not touched since `listed_before`) ended while nobody told us. Who
    deleted whom is unknown; the loss says so. (Relations of members no longer enabled
    for customer contact, e.g. resigned ones awaiting inheritance, are left alone.)"""
    stale = [
        relation
        for chunk in _chunks(list(staff_ids))
        for relation in session.scalars(
            select(FollowRelation).where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.status == FollowStatus.ACTIVE.value,
                FollowRelation.staff_id.in_(chunk),
                FollowRelation.updated_at < listed_before,
            )
        )
    ]
    losses = []
    for relation in stale:
        loss = end_follow(
            session, relation, deleted_by="unknown", occurred_at=utcnow(), detected_by="reconcile"
        )
        if loss is not None:
            losses.append(loss)
    return losses


# -- lost customers -------------------------------------------------------------------

LOSS_ALERT_JOB = "wecom.alert_loss"
LOSS_SORTS = ("occurred_at", "id")


@dataclass(frozen=True)
class LossQuery:
    staff_id: int | None = None
    department_id: int | None = None
    deleted_by: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 50


def lost_customers(
    session: Session, workspace_id: int, query: LossQuery
) -> tuple[list[tuple[FollowLoss, str | None, str | None]], str | None]:
    """Lost customers newest first (keyset paged): (loss, customer name, staff name)."""
    stmt = (
        select(FollowLoss, Customer.name, Staff.name)
        .join(Customer, Customer.id == FollowLoss.customer_id)
        .join(Staff, Staff.id == FollowLoss.staff_id)
        .where(FollowLoss.workspace_id == workspace_id)
    )
    if query.staff_id is not None:
        stmt = stmt.where(FollowLoss.staff_id == query.staff_id)
    if query.department_id is not None:
        stmt = stmt.where(FollowLoss.department_id == query.department_id)
    if query.deleted_by is not None:
        stmt = stmt.where(FollowLoss.deleted_by == query.deleted_by)
    if query.since is not None:
        stmt = stmt.where(FollowLoss.occurred_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(FollowLoss.occurred_at < query.until)
    paged, page = paginate(
        cast("Select[Any]", stmt),
        columns={
            "occurred_at": FollowLoss.occurred_at.expression,
            "id": FollowLoss.id.expression,
        },
        id_column=FollowLoss.id.expression,
        sort=SortSpec("occurred_at", descending=True),
        cursor=query.cursor,
        limit=query.limit,
    )
    rows: list[tuple[FollowLoss, str | None, str | None]] = [
        (row[0], row[1], row[2]) for row in session.execute(paged)
    ]
    return page.build(rows, key_of=lambda row, name: getattr(row[0], name))


def get_loss(session: Session, workspace_id: int, loss_id: int) -> FollowLoss | None:
    return session.scalar(
        select(FollowLoss).where(FollowLoss.workspace_id == workspace_id, FollowLoss.id == loss_id)
    )


def active_wecom_relations(
    session: Session, workspace_id: int, customer_ids: Sequence[int]
) -> list[tuple[FollowRelation, str, str]]:
    """The customers' active relations with the staff userid and the external_userid."""
    found: list[tuple[FollowRelation, str, str]] = []
    for chunk in _chunks(list(customer_ids)):
        rows = session.execute(
            select(FollowRelation, Staff.wecom_userid, Identity.value)
            .join(Staff, Staff.id == FollowRelation.staff_id)
            .join(Identity, Identity.customer_id == FollowRelation.customer_id)
            .where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.customer_id.in_(chunk),
                FollowRelation.status == FollowStatus.ACTIVE.value,
                Staff.wecom_userid.is_not(None),
                Identity.kind == IdentityKind.WECOM_EXTERNAL_USERID.value,
            )
        )
        found.extend((relation, str(userid), str(value)) for relation, userid, value in rows)
    return found


def change_relation_tags(
    session: Session,
    workspace_id: int,
    relation_ids: Sequence[int],
    *,
    add: Sequence[int] = (),
    remove: Sequence[int] = (),
) -> None:
    """Record tags Siyu put on (or took off) relations in WeCom through mark_tag."""
    if not relation_ids:
        return
    if remove:
        session.execute(
            delete(FollowRelationTag).where(
                FollowRelationTag.workspace_id == workspace_id,
                FollowRelationTag.follow_relation_id.in_(relation_ids),
                FollowRelationTag.tag_id.in_(remove),
            )
        )
    if add:
        present = {
            (relation_id, tag_id)
            for relation_id, tag_id in session.execute(
                select(FollowRelationTag.follow_relation_id, FollowRelationTag.tag_id).where(
                    FollowRelationTag.workspace_id == workspace_id,
                    FollowRelationTag.follow_relation_id.in_(relation_ids),
                    FollowRelationTag.tag_id.in_(add),
                )
            )
        }
        rows = [
            {"workspace_id": workspace_id, "follow_relation_id": r, "tag_id": t}
            for r in relation_ids
            for t in add
            if (r, t) not in present
        ]
        if rows:
            session.execute(insert(FollowRelationTag), rows)


@dataclass(frozen=True)
class FollowedCustomer:
    customer_id: int
    name: str | None
    external_userid: str
    added_at: datetime


def customers_followed_by(
    session: Session, workspace_id: int, staff_id: int, *, limit: int
) -> list[FollowedCustomer]:
    """The WeCom customers a staff member actively follows, longest-followed first."""
    rows = session.execute(
        select(Customer.id, Customer.name, Identity.value, FollowRelation.added_at)
        .join(FollowRelation, FollowRelation.customer_id == Customer.id)
        .join(Identity, Identity.customer_id == Customer.id)
        .where(
            FollowRelation.workspace_id == workspace_id,
            FollowRelation.staff_id == staff_id,
            FollowRelation.status == FollowStatus.ACTIVE.value,
            Customer.workspace_id == workspace_id,
            Identity.workspace_id == workspace_id,
            Identity.kind == IdentityKind.WECOM_EXTERNAL_USERID.value,
        )
        .order_by(FollowRelation.added_at, Customer.id)
        .limit(limit)
    )
    return [FollowedCustomer(int(c), n, str(e), a) for c, n, e, a in rows]
