"""What Siyu and the simulator hold, in the same shape, so sync tests compare them exactly."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.connection import connect
from siyu.connectors.wecom_sim import WecomSim
from siyu.customers.identities import IdentityKind
from siyu.models import (
    CustomerGroup,
    CustomerGroupMember,
    CustomerTag,
    Department,
    FollowRelation,
    Identity,
    Staff,
    Tag,
    TagGroup,
)


@dataclass
class Snapshot:
    departments: dict[int, str]
    staff: set[str]
    contacts: set[str]
    relations: set[tuple[str, str]]  # (userid, external_userid), active
    tag_library: dict[str, tuple[str, frozenset[tuple[str, str]]]]  # group id -> (name, tags)
    customer_tags: dict[str, frozenset[str]]  # external_userid -> WeCom tag ids
    groups: dict[str, tuple[str, str, frozenset[str]]]  # chat_id -> (name, owner, members)


def connect_to_sim(db: Session, workspace_id: int, sim: WecomSim) -> None:
    connect(
        db,
        workspace_id=workspace_id,
        corp_id=sim.corp_id,
        contact_secret=sim.contact_secret,
        directory_secret=sim.directory_secret,
        api_base_url=sim.base_url,
    )
    db.commit()


def sim_snapshot(sim: WecomSim) -> Snapshot:
    state = sim.state
    with state.lock:
        # A relation the customer deleted may stay listed in WeCom; Siyu holds it as ended.
        live = {key: f for key, f in state.follows.items() if not f.deleted_by_customer}
        relations = set(live)
        tags: dict[str, set[str]] = {}
        for (_, external_userid), follow in live.items():
            tags.setdefault(external_userid, set()).update(follow.tag_ids)
        return Snapshot(
            departments={d.id: d.name for d in state.departments.values()},
            staff={m.userid for m in state.members.values() if m.status != 5},
            contacts={external_userid for _, external_userid in relations},
            relations=relations,
            tag_library={
                g.group_id: (
                    g.group_name,
                    frozenset(
                        (t, state.tags[t].name) for t in g.tag_ids if not state.tags[t].deleted
                    ),
                )
                for g in state.tag_groups.values()
                if not g.deleted
            },
            customer_tags={e: frozenset(t) for e, t in tags.items() if t},
            groups={
                c.chat_id: (c.name, c.owner, frozenset(m.userid for m in c.members))
                for c in state.groups.values()
            },
        )


def siyu_snapshot(db: Session, workspace_id: int) -> Snapshot:
    db.expire_all()
    external = dict(
        db.execute(
            select(Identity.customer_id, Identity.value).where(
                Identity.workspace_id == workspace_id,
                Identity.kind == IdentityKind.WECOM_EXTERNAL_USERID.value,
            )
        ).all()
    )
    relations = {
        (str(userid), external[customer_id])
        for userid, customer_id in db.execute(
            select(Staff.wecom_userid, FollowRelation.customer_id)
            .join(Staff, Staff.id == FollowRelation.staff_id)
            .where(FollowRelation.workspace_id == workspace_id, FollowRelation.status == "active")
        )
    }
    library: dict[str, tuple[str, set[tuple[str, str]]]] = {}
    for tag_group, tag in db.execute(
        select(TagGroup, Tag)
        .outerjoin(Tag, Tag.group_id == TagGroup.id)
        .where(TagGroup.workspace_id == workspace_id, TagGroup.wecom_group_id.is_not(None))
    ):
        entry = library.setdefault(str(tag_group.wecom_group_id), (tag_group.name, set()))
        if tag is not None and tag.wecom_tag_id:
            entry[1].add((tag.wecom_tag_id, tag.name))
    followed = {external_userid for _, external_userid in relations}
    customer_tags: dict[str, set[str]] = {}
    for customer_id, wecom_tag_id in db.execute(
        select(CustomerTag.customer_id, Tag.wecom_tag_id)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(CustomerTag.workspace_id == workspace_id, Tag.wecom_tag_id.is_not(None))
    ):
        customer_tags.setdefault(external[customer_id], set()).add(str(wecom_tag_id))
    groups: dict[str, tuple[str, str, set[str]]] = {}
    for group in db.scalars(
        select(CustomerGroup).where(
            CustomerGroup.workspace_id == workspace_id, CustomerGroup.status == "active"
        )
    ):
        members = set(
            db.scalars(
                select(CustomerGroupMember.member_id).where(
                    CustomerGroupMember.group_id == group.id,
                    CustomerGroupMember.status == "active",
                )
            )
        )
        groups[group.chat_id] = (group.name, group.owner_userid or "", members)
    return Snapshot(
        departments={
            int(d.wecom_id): d.name
            for d in db.scalars(select(Department).where(Department.workspace_id == workspace_id))
            if d.wecom_id is not None
        },
        staff={
            str(s.wecom_userid)
            for s in db.scalars(
                select(Staff).where(Staff.workspace_id == workspace_id, Staff.status != "resigned")
            )
        },
        contacts={external_userid for _, external_userid in relations},
        relations=relations,
        tag_library={k: (name, frozenset(tags)) for k, (name, tags) in library.items()},
        # Customers Siyu no longer follows keep their last tags; compare the followed ones.
        customer_tags={e: frozenset(t) for e, t in customer_tags.items() if e in followed},
        groups={k: (n, o, frozenset(m)) for k, (n, o, m) in groups.items()},
    )
