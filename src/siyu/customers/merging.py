"""Merging two customers into one and undoing it.

The sanctioned cross-table writer (CONTRIBUTING): a merge reassigns `customer_id` on every
table that references a customer and records exactly which rows moved in
`MergeRecord.moved`, so `unmerge` can put them back.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.customers import changes
from siyu.customers.repository import CustomerRepository, Scope
from siyu.events import counters
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import SortSpec, paginate
from siyu.kit.time import utcnow
from siyu.models import (
    Customer,
    CustomerGroupMember,
    CustomerTag,
    Event,
    FollowLoss,
    FollowRelation,
    FollowUp,
    Identity,
    LinkVisit,
    LinkVisitor,
    LiveCodeAdd,
    MergeRecord,
    OptOut,
    Order,
    Staff,
    StageChange,
    Tag,
    TagChange,
    TrackedLink,
    WecomTransfer,
)
from siyu.tags import service as tags_service
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

# Tables whose rows have their own id and no uniqueness involving the customer: they move whole.
_Moved = (
    Identity
    | TagChange
    | Event
    | Order
    | FollowUp
    | FollowLoss
    | CustomerGroupMember
    | WecomTransfer
    | LiveCodeAdd
    | StageChange
    | TrackedLink
    | LinkVisitor
    | LinkVisit
)
_MOVED_BY_ID: dict[str, type[_Moved]] = {
    "identity": Identity,
    "tag_change": TagChange,
    "event": Event,
    "customer_order": Order,
    "follow_up": FollowUp,
    "follow_loss": FollowLoss,
    "customer_group_member": CustomerGroupMember,
    "wecom_transfer": WecomTransfer,
    "live_code_add": LiveCodeAdd,
    "stage_change": StageChange,
    "tracked_link": TrackedLink,
    "link_visitor": LinkVisitor,
    "link_visit": LinkVisit,
}
# Rows computed from the moved ones (features, event counters, segment membership): their
# owners rebuild them for both customers. Frozen history (segment changes and snapshots)
# stays with the record it was taken of, as do the messages a customer record was sent and
# the share edges recorded with their sharer.
DERIVED_TABLES = frozenset(
    {"customer_feature", "event_counter", "segment_member", "changed_customer"}
)
HISTORY_TABLES = frozenset({"segment_change", "segment_snapshot_member", "delivery", "share_edge"})
# Every table with a customer_id column that a merge handles; tests check none is missing.
HANDLED_TABLES = frozenset(
    {*_MOVED_BY_ID, "follow_relation", "customer_tag", "opt_out"} | DERIVED_TABLES | HISTORY_TABLES
)
# Profile fields a merge copies from the merged customer when the survivor's is empty.
_PROFILE_FIELDS = (
    "name",
    "gender",
    "birthday",
    "mobile",
    "mobile_last4",
    "email",
    "province",
    "city",
    "avatar_url",
    "source",
    "remark",
)
_FOLLOW_COLUMNS = (
    "id",
    "staff_id",
    "remark",
    "description",
    "added_at",
    "add_way",
    "state",
    "status",
    "created_at",
    "updated_at",
)
_DATETIME_FOLLOW_COLUMNS = frozenset({"added_at", "created_at", "updated_at"})


def merge(
    session: Session,
    workspace_id: int,
    survivor_id: int,
    merged_id: int,
    *,
    reason: str,
    actor: str,
) -> MergeRecord:
    """Move everything of `merged_id` onto `survivor_id` (or the customer it was merged into)."""
    survivor = live_customer(session, workspace_id, _customer(session, workspace_id, survivor_id))
    merged = _customer(session, workspace_id, merged_id)
    if merged.merged_into_id is not None:
        raise Conflict(
            f"customer {merged.id} is already merged into customer {merged.merged_into_id}",
            {"field": "merged_id"},
        )
    if survivor.id == merged.id:
        raise ValidationFailed("merged_id", "a customer cannot be merged into itself")

    moved: dict[str, Any] = {
        name: _move_rows(session, model, workspace_id, merged.id, survivor.id)
        for name, model in _MOVED_BY_ID.items()
    }
    moved["follow_relation"], moved["follow_relation_dropped"] = _move_follow_relations(
        session, workspace_id, merged.id, survivor.id
    )
    moved["customer_tag"], moved["customer_tag_dropped"] = _move_tags(
        session, workspace_id, merged.id, survivor.id
    )
    moved["opt_out"] = _move_opt_outs(session, workspace_id, merged.id, survivor.id)
    moved["filled"], moved["filled_custom_fields"] = _fill_profile(survivor, merged)
    merged.merged_into_id = survivor.id
    recompute_stats(session, workspace_id, survivor)
    recompute_stats(session, workspace_id, merged)
    _derived_changed(session, workspace_id, [survivor.id, merged.id])
    record = MergeRecord(
        workspace_id=workspace_id,
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason=reason[:200],
        moved=moved,
        actor=actor,
    )
    session.add(record)
    session.flush()
    return record


def unmerge(session: Session, workspace_id: int, merge_id: int, *, actor: str) -> Customer:
    """Put back exactly what a merge moved; returns the customer that comes back."""
    record = session.scalar(
        select(MergeRecord).where(
            MergeRecord.workspace_id == workspace_id, MergeRecord.id == merge_id
        )
    )
    if record is None:
        raise NotFound("merge")
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone")
    survivor = _customer(session, workspace_id, record.survivor_id)
    merged = _customer(session, workspace_id, record.merged_id)
    _refuse_if_later_merges_depend_on(session, record, survivor)

    moved = record.moved
    # Rows deleted or reassigned since the merge no longer belong to the survivor: they stay.
    for name, model in _MOVED_BY_ID.items():
        _reassign(session, model, workspace_id, moved.get(name, []), survivor.id, merged.id)
    _reassign(
        session,
        FollowRelation,
        workspace_id,
        moved.get("follow_relation", []),
        survivor.id,
        merged.id,
    )
    _reassign(session, OptOut, workspace_id, moved.get("opt_out", []), survivor.id, merged.id)
    # A kept row whose staff member or tag was deleted since has nothing to come back to.
    dropped_relations = moved.get("follow_relation_dropped", [])
    staff_left = _existing(session, Staff, workspace_id, [r["staff_id"] for r in dropped_relations])
    for row in dropped_relations:
        if row["staff_id"] not in staff_left:
            continue
        values = {
            key: datetime.fromisoformat(value)
            if key in _DATETIME_FOLLOW_COLUMNS and value
            else value
            for key, value in row.items()
        }
        session.execute(
            insert(FollowRelation).values(
                workspace_id=workspace_id, customer_id=merged.id, **values
            )
        )
    tag_ids = moved.get("customer_tag", [])
    back = (
        session.scalars(
            update(CustomerTag)
            .where(
                CustomerTag.workspace_id == workspace_id,
                CustomerTag.customer_id == survivor.id,
                CustomerTag.tag_id.in_(tag_ids),
            )
            .values(customer_id=merged.id)
            .returning(CustomerTag.tag_id)
            .execution_options(synchronize_session=False)
        ).all()
        if tag_ids
        else []
    )
    dropped_tags = moved.get("customer_tag_dropped", [])
    tags_left = _existing(session, Tag, workspace_id, [r["tag_id"] for r in dropped_tags])
    returned = [r["tag_id"] for r in dropped_tags if r["tag_id"] in tags_left]
    _shift_tag_counts(session, workspace_id, returned, 1)
    tags_service.assignments_moved(
        session,
        workspace_id,
        added=[(merged.id, t) for t in [*back, *returned]],
        removed=[(survivor.id, t) for t in back],
    )
    for row in dropped_tags:
        if row["tag_id"] not in tags_left:
            continue
        session.add(
            CustomerTag(
                workspace_id=workspace_id,
                customer_id=merged.id,
                tag_id=row["tag_id"],
                source=row["source"],
                actor=row["actor"],
                created_at=datetime.fromisoformat(row["created_at"]),
            )
        )
    _unfill_profile(survivor, moved.get("filled", {}), moved.get("filled_custom_fields", []))
    merged.merged_into_id = None
    record.undone_at = utcnow()
    record.undone_by = actor
    session.flush()
    _expire_moved(session)
    recompute_stats(session, workspace_id, survivor)
    recompute_stats(session, workspace_id, merged)
    _derived_changed(session, workspace_id, [survivor.id, merged.id])
    session.flush()
    return merged


def merge_history(session: Session, workspace_id: int, customer_id: int) -> list[MergeRecord]:
    """Merges this customer took part in, newest first."""
    _customer(session, workspace_id, customer_id)
    return list(
        session.scalars(
            select(MergeRecord)
            .where(
                MergeRecord.workspace_id == workspace_id,
                or_(MergeRecord.survivor_id == customer_id, MergeRecord.merged_id == customer_id),
            )
            .order_by(MergeRecord.id.desc())
        )
    )


def merge_as(
    session: Session, principal: Principal, survivor_id: int, merged_id: int, *, reason: str
) -> MergeRecord:
    """A merge requested by a person or integrator, written to the audit log."""
    record = merge(
        session,
        principal.workspace_id,
        survivor_id,
        merged_id,
        reason=reason,
        actor=principal.actor,
    )
    workspace_service.audit(
        session,
        principal,
        "customer.merge",
        target_type="customer",
        target_id=record.survivor_id,
        details={"merge_id": record.id, "merged_id": record.merged_id, "reason": record.reason},
    )
    return record


def unmerge_as(session: Session, principal: Principal, merge_id: int) -> MergeRecord:
    """An undo requested by a person or integrator, written to the audit log."""
    restored = unmerge(session, principal.workspace_id, merge_id, actor=principal.actor)
    workspace_service.audit(
        session,
        principal,
        "customer.unmerge",
        target_type="customer",
        target_id=restored.id,
        details={"merge_id": merge_id},
    )
    record = session.get(MergeRecord, merge_id)
    assert record is not None
    return record


def merge_history_page(
    session: Session, principal: Principal, customer_id: int, *, cursor: str | None, limit: int
) -> tuple[list[MergeRecord], str | None]:
    """Merges the customer took part in, newest first; a merged customer keeps its history."""
    customer = _customer(session, principal.workspace_id, customer_id)
    live = live_customer(session, principal.workspace_id, customer)
    if CustomerRepository(session).get(Scope.of(principal), live.id) is None:
        raise NotFound("customer")
    stmt, page = paginate(
        select(MergeRecord).where(
            MergeRecord.workspace_id == principal.workspace_id,
            or_(MergeRecord.survivor_id == customer.id, MergeRecord.merged_id == customer.id),
        ),
        columns={"id": MergeRecord.id.expression},
        id_column=MergeRecord.id.expression,
        sort=SortSpec("id", descending=True),
        cursor=cursor,
        limit=limit,
    )
    return page.build(list(session.scalars(stmt)))


def recompute_stats(session: Session, workspace_id: int, customer: Customer) -> None:
    """Order stats (commerce's rule) and last activity, from the customer's own rows."""
    # commerce imports OneID, which imports this module: import it when first needed.
    from siyu.commerce import service as commerce_service  # noqa: PLC0415

    commerce_service.recompute_customer_stats(session, workspace_id, [customer.id])
    last_event = session.scalar(
        select(func.max(Event.occurred_at)).where(
            Event.workspace_id == workspace_id, Event.customer_id == customer.id
        )
    )
    moments = [m for m in (_aware(last_event), customer.last_order_at) if m is not None]
    customer.last_active_at = max(moments) if moments else None


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type, so SQLite hands back naive UTC datetimes."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=utcnow().tzinfo)


def _existing(
    session: Session, model: type[Staff | Tag], workspace_id: int, ids: list[int]
) -> set[int]:
    if not ids:
        return set()
    return set(
        session.scalars(
            select(model.id).where(model.workspace_id == workspace_id, model.id.in_(ids))
        )
    )


def _customer(session: Session, workspace_id: int, customer_id: int) -> Customer:
    customer = session.scalar(
        select(Customer)
        .where(Customer.workspace_id == workspace_id, Customer.id == customer_id)
        .with_for_update()
    )
    if customer is None:
        raise NotFound("customer")
    return customer


def live_customer(session: Session, workspace_id: int, customer: Customer) -> Customer:
    """Follow merged_into_id to the customer that now stands for this one."""
    seen = {customer.id}
    while customer.merged_into_id is not None:
        customer = _customer(session, workspace_id, customer.merged_into_id)
        if customer.id in seen:
            msg = f"merge cycle through customer {customer.id}"
            raise Conflict(msg)
        seen.add(customer.id)
    return customer


def _move_opt_outs(session: Session, workspace_id: int, from_id: int, to_id: int) -> list[int]:
    """Opt-outs the survivor lacks move over; one it has already stays with the merged record,
    so the person stays opted out and unmerge has nothing to restore."""
    survivor_channels = select(OptOut.channel).where(
        OptOut.workspace_id == workspace_id, OptOut.customer_id == to_id
    )
    ids = list(
        session.scalars(
            select(OptOut.id)
            .where(
                OptOut.workspace_id == workspace_id,
                OptOut.customer_id == from_id,
                OptOut.channel.not_in(survivor_channels),
            )
            .order_by(OptOut.id)
        )
    )
    _reassign(session, OptOut, workspace_id, ids, from_id, to_id)
    return ids


def _move_rows(
    session: Session,
    model: type[_Moved | FollowRelation],
    workspace_id: int,
    from_id: int,
    to_id: int,
) -> list[int]:
    ids = list(
        session.scalars(
            select(model.id)
            .where(model.workspace_id == workspace_id, model.customer_id == from_id)
            .order_by(model.id)
        )
    )
    _reassign(session, model, workspace_id, ids, from_id, to_id)
    return ids


def _reassign(
    session: Session,
    model: type[_Moved | FollowRelation | OptOut],
    workspace_id: int,
    ids: list[int],
    from_id: int,
    to_id: int,
) -> None:
    chunk = 5000
    for start in range(0, len(ids), chunk):
        session.execute(
            update(model)
            .where(
                model.workspace_id == workspace_id,
                model.customer_id == from_id,
                model.id.in_(ids[start : start + chunk]),
            )
            .values(customer_id=to_id)
            .execution_options(synchronize_session=False)
        )
    if ids:
        _expire_moved(session)


def _expire_moved(session: Session) -> None:
    """Loaded rows of moved tables must not keep a customer_id a bulk UPDATE replaced."""
    movable = (Identity, TagChange, Event, Order, FollowUp, FollowRelation, CustomerTag)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, movable):
            session.expire(obj)


def _move_follow_relations(
    session: Session, workspace_id: int, from_id: int, to_id: int
) -> tuple[list[int], list[dict[str, Any]]]:
    """Move relations; one with a staff member the survivor already has is dropped and kept."""
    survivor_staff = set(
        session.scalars(
            select(FollowRelation.staff_id).where(
                FollowRelation.workspace_id == workspace_id, FollowRelation.customer_id == to_id
            )
        )
    )
    rows = list(
        session.scalars(
            select(FollowRelation)
            .where(
                FollowRelation.workspace_id == workspace_id, FollowRelation.customer_id == from_id
            )
            .order_by(FollowRelation.id)
        )
    )
    dropped = [_follow_snapshot(r) for r in rows if r.staff_id in survivor_staff]
    if dropped:
        session.execute(
            delete(FollowRelation)
            .where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.id.in_([row["id"] for row in dropped]),
            )
            .execution_options(synchronize_session="fetch")
        )
    moving = [r.id for r in rows if r.staff_id not in survivor_staff]
    _reassign(session, FollowRelation, workspace_id, moving, from_id, to_id)
    return moving, dropped


def _follow_snapshot(relation: FollowRelation) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for column in _FOLLOW_COLUMNS:
        value = getattr(relation, column)
        snapshot[column] = value.isoformat() if isinstance(value, datetime) else value
    return snapshot


def _derived_changed(session: Session, workspace_id: int, customer_ids: list[int]) -> None:
    """Rows computed from what moved are recomputed: event counters now, the rest (features,
    segment membership) by their owners once the customers are marked changed."""
    session.flush()
    counters.rebuild_for(session, workspace_id, customer_ids)
    changes.mark_changed(session, workspace_id, customer_ids, orders=True)


def _shift_tag_counts(session: Session, workspace_id: int, tag_ids: list[int], by: int) -> None:
    """Keep the tags' customer counts: a merge drops the duplicate of a tag both carried."""
    if tag_ids:
        session.execute(
            update(Tag)
            .where(Tag.workspace_id == workspace_id, Tag.id.in_(tag_ids))
            .values(customer_count=Tag.customer_count + by)
            .execution_options(synchronize_session=False)
        )


def _move_tags(
    session: Session, workspace_id: int, from_id: int, to_id: int
) -> tuple[list[int], list[dict[str, Any]]]:
    """Move tags; where the survivor has the tag already, its row stays and the other is kept."""
    survivor_tags = set(
        session.scalars(
            select(CustomerTag.tag_id).where(
                CustomerTag.workspace_id == workspace_id, CustomerTag.customer_id == to_id
            )
        )
    )
    rows = list(
        session.scalars(
            select(CustomerTag)
            .where(CustomerTag.workspace_id == workspace_id, CustomerTag.customer_id == from_id)
            .order_by(CustomerTag.tag_id)
        )
    )
    dropped = [
        {
            "tag_id": r.tag_id,
            "source": r.source,
            "actor": r.actor,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
        if r.tag_id in survivor_tags
    ]
    moving = [r.tag_id for r in rows if r.tag_id not in survivor_tags]
    carried = [r.tag_id for r in rows]
    if dropped:
        session.execute(
            delete(CustomerTag)
            .where(
                CustomerTag.workspace_id == workspace_id,
                CustomerTag.customer_id == from_id,
                CustomerTag.tag_id.in_([row["tag_id"] for row in dropped]),
            )
            .execution_options(synchronize_session="fetch")
        )
        _shift_tag_counts(
            session, workspace_id, [r.tag_id for r in rows if r.tag_id in survivor_tags], -1
        )
    if moving:
        session.execute(
            update(CustomerTag)
            .where(
                CustomerTag.workspace_id == workspace_id,
                CustomerTag.customer_id == from_id,
                CustomerTag.tag_id.in_(moving),
            )
            .values(customer_id=to_id)
            .execution_options(synchronize_session=False)
        )
        _expire_moved(session)
    tags_service.assignments_moved(
        session,
        workspace_id,
        added=[(to_id, t) for t in moving],
        removed=[(from_id, t) for t in carried],
    )
    return moving, dropped


def _fill_profile(survivor: Customer, merged: Customer) -> tuple[dict[str, Any], list[str]]:
    filled: dict[str, Any] = {}
    for name in _PROFILE_FIELDS:
        value = getattr(merged, name)
        if getattr(survivor, name) in (None, "") and value not in (None, ""):
            setattr(survivor, name, value)
            filled[name] = value.isoformat() if isinstance(value, date) else value
    added = [key for key in merged.custom_fields if key not in survivor.custom_fields]
    if added:
        survivor.custom_fields = {
            **survivor.custom_fields,
            **{key: merged.custom_fields[key] for key in added},
        }
    return filled, added


def _unfill_profile(survivor: Customer, filled: dict[str, Any], added: list[str]) -> None:
    """Clear what the merge copied in, unless someone has changed it since."""
    for name, value in filled.items():
        current = getattr(survivor, name)
        if (current.isoformat() if isinstance(current, date) else current) == value:
            setattr(survivor, name, None)
    if added:
        survivor.custom_fields = {
            key: value for key, value in survivor.custom_fields.items() if key not in added
        }


def _refuse_if_later_merges_depend_on(
    session: Session, record: MergeRecord, survivor: Customer
) -> None:
    """Undo in reverse order where a later merge built on this one."""
    if survivor.merged_into_id is not None:
        raise Conflict(
            f"customer {survivor.id} was merged into customer {survivor.merged_into_id} "
            "later; undo that merge first"
        )
    later = session.scalars(
        select(MergeRecord).where(
            MergeRecord.workspace_id == record.workspace_id,
            MergeRecord.id > record.id,
            MergeRecord.undone_at.is_(None),
            MergeRecord.survivor_id == survivor.id,
        )
    )
    returning_tags = set(record.moved.get("customer_tag", []))
    returning_relations = record.moved.get("follow_relation", [])
    returning_staff = (
        set(
            session.scalars(
                select(FollowRelation.staff_id).where(FollowRelation.id.in_(returning_relations))
            )
        )
        if returning_relations
        else set()
    )
    for other in later:
        dropped_tags = {row["tag_id"] for row in other.moved.get("customer_tag_dropped", [])}
        dropped_staff = {row["staff_id"] for row in other.moved.get("follow_relation_dropped", [])}
        if dropped_tags & returning_tags or dropped_staff & returning_staff:
            raise Conflict(
                f"merge {other.id} relies on what merge {record.id} brought; undo it first"
            )
