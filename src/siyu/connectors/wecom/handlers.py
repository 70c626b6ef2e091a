"""Incremental sync: the handlers of WeCom's change callbacks.

A callback is a hint, not the truth: each handler re-reads the object it names
(externalcontact/get, groupchat/get, get_corp_tag_list, user/get, department/list) and makes
Siyu match what WeCom says now. That makes every handler idempotent and makes duplicated or
reordered callbacks converge: a late "add" after a "del" re-reads a relation WeCom no longer
has, and changes nothing.
"""

import importlib
import logging

from sqlalchemy.orm import Session

from siyu.connectors.wecom import handover, sync
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.clients import client_for
from siyu.connectors.wecom.errors import WecomApiError
from siyu.connectors.wecom.events import CallbackEvent, handles
from siyu.customers import groups as customer_groups
from siyu.customers import wecom as customers_wecom
from siyu.customers.schemas import FollowStatus
from siyu.models import Staff
from siyu.staff import service as staff_service

log = logging.getLogger(__name__)

CONTACT = "change_external_contact"
CHAT = "change_external_chat"
TAG = "change_external_tag"
DIRECTORY = "change_contact"
# externalcontact/get: no such customer (40096) or no member follows them any more (84061).
CONTACT_GONE = frozenset({40096, 84061})
# groupchat/get: no such chat (dismissed).
CHAT_GONE = frozenset({40050})
TRANSFER_SOURCE = "DELETE_BY_TRANSFER"


async def _reread_contact(
    session: Session,
    workspace_id: int,
    client: WecomClient,
    event: CallbackEvent,
    *,
    ended_by: str,
) -> int | None:
    """Make the customer named by the event match WeCom; returns its customer id (None when
    Siyu does not know the customer and WeCom has nothing for it)."""
    external_userid = event.fields.get("ExternalUserID", "")
    if not external_userid:
        return None
    try:
        detail = await client.externalcontact_get_all(external_userid)
    except WecomApiError as exc:
        if exc.errcode not in CONTACT_GONE:
            raise
        return _end_all(session, workspace_id, event, ended_by=ended_by)
    sync.apply_contact(
        session,
        workspace_id,
        detail,
        ended_by=ended_by,
        occurred_at=event.create_time,
        event_userid=event.fields.get("UserID"),
    )
    return customers_wecom.customer_ids_by_external_userid(
        session, workspace_id, [external_userid]
    ).get(external_userid)


def _end_all(
    session: Session, workspace_id: int, event: CallbackEvent, *, ended_by: str
) -> int | None:
    """WeCom has no relation left with this customer: end every active one Siyu holds."""
    external_userid = event.fields["ExternalUserID"]
    customer_id = customers_wecom.customer_ids_by_external_userid(
        session, workspace_id, [external_userid]
    ).get(external_userid)
    if customer_id is None:
        return None
    event_staff = staff_service.staff_by_userid(
        session, workspace_id, event.fields.get("UserID", "")
    )
    for relation in customers_wecom.relations_of_customer(session, workspace_id, customer_id):
        customers_wecom.end_follow(
            session,
            relation,
            deleted_by=ended_by
            if event_staff is not None and relation.staff_id == event_staff.id
            else "unknown",
            occurred_at=event.create_time,
            detected_by="callback",
        )
    return customer_id


def _welcome(session: Session, workspace_id: int, customer_id: int, event: CallbackEvent) -> None:
    """Hand a new contact that came with a State or WelcomeCode to acquisition (live codes,
    welcome messages), once Siyu holds the active relation."""
    state = event.fields.get("State") or None
    welcome_code = event.fields.get("WelcomeCode") or None
    if state is None and welcome_code is None:
        return
    staff = staff_service.staff_by_userid(session, workspace_id, event.fields.get("UserID", ""))
    if staff is None:
        return
    relation = customers_wecom.relation_of(session, workspace_id, customer_id, staff.id)
    if relation is None or relation.status != FollowStatus.ACTIVE:
        return
    try:
        acquisition = importlib.import_module("siyu.acquisition.service")
    except ImportError:
        log.warning("siyu.acquisition is not installed: new contact not handed over")
        return
    acquisition.handle_new_contact(
        session,
        workspace_id=workspace_id,
        customer_id=customer_id,
        staff_id=staff.id,
        external_userid=event.fields["ExternalUserID"],
        state=state,
        welcome_code=welcome_code,
    )


async def _ensure_member(
    session: Session, workspace_id: int, client: WecomClient, userid: str
) -> Staff | None:
    """The staff member of a userid an event names, read from WeCom when Siyu lacks it."""
    staff = staff_service.staff_by_userid(session, workspace_id, userid)
    if staff is None and userid:
        await _read_member(session, workspace_id, client, userid)
        staff = staff_service.staff_by_userid(session, workspace_id, userid)
    return staff


@handles(CONTACT, "add_external_contact")
@handles(CONTACT, "add_half_external_contact")
async def contact_added(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    async with client_for(session, workspace_id) as client:
        await _ensure_member(session, workspace_id, client, event.fields.get("UserID", ""))
        customer_id = await _reread_contact(
            session, workspace_id, client, event, ended_by="unknown"
        )
    if customer_id is not None:
        _welcome(session, workspace_id, customer_id, event)


@handles(CONTACT, "edit_external_contact")
async def contact_changed(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    async with client_for(session, workspace_id) as client:
        await _reread_contact(session, workspace_id, client, event, ended_by="unknown")


@handles(CONTACT, "transfer_fail")
async def transfer_failed(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    """A handover failed (customer refused, or the takeover member is at the limit)."""
    handover.transfer_failed(
        session,
        workspace_id,
        takeover_userid=event.fields.get("UserID", ""),
        external_userid=event.fields.get("ExternalUserID", ""),
        reason=event.fields.get("FailReason", ""),
    )
    async with client_for(session, workspace_id) as client:
        await _reread_contact(session, workspace_id, client, event, ended_by="unknown")


@handles(CONTACT, "del_external_contact")
async def staff_deleted_customer(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    """The staff member deleted the customer (or an on-job transfer moved them away)."""
    transferred = event.fields.get("Source") == TRANSFER_SOURCE
    if transferred:
        _mark_transferred(session, workspace_id, event)
    async with client_for(session, workspace_id) as client:
        await _reread_contact(session, workspace_id, client, event, ended_by="staff")


def _mark_transferred(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    external_userid = event.fields.get("ExternalUserID", "")
    customer_id = customers_wecom.customer_ids_by_external_userid(
        session, workspace_id, [external_userid]
    ).get(external_userid)
    staff = staff_service.staff_by_userid(session, workspace_id, event.fields.get("UserID", ""))
    if customer_id is None or staff is None:
        return
    relation = customers_wecom.relation_of(session, workspace_id, customer_id, staff.id)
    if relation is not None and relation.status == FollowStatus.ACTIVE:
        relation.status = FollowStatus.TRANSFERRED.value
        session.flush()


@handles(CONTACT, "del_follow_user")
async def customer_deleted_staff(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    """The customer deleted the staff member. WeCom may keep listing such a one-sided
    relation, so this event decides: the relation ends here, and re-reads leave it ended
    unless WeCom lists it with a later createtime (a re-add)."""
    async with client_for(session, workspace_id) as client:
        customer_id = await _reread_contact(
            session, workspace_id, client, event, ended_by="customer"
        )
    staff = staff_service.staff_by_userid(session, workspace_id, event.fields.get("UserID", ""))
    if customer_id is None or staff is None:
        return
    relation = customers_wecom.relation_of(session, workspace_id, customer_id, staff.id)
    if relation is not None:
        customers_wecom.end_follow(
            session,
            relation,
            deleted_by="customer",
            occurred_at=event.create_time,
            detected_by="callback",
        )


# -- customer groups ------------------------------------------------------------------


@handles(CHAT, "create")
@handles(CHAT, "update")
async def group_changed(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    chat_id = event.fields.get("ChatId", "")
    if not chat_id:
        return
    async with client_for(session, workspace_id) as client:
        try:
            await sync.read_group(session, workspace_id, client, chat_id)
        except WecomApiError as exc:
            if exc.errcode not in CHAT_GONE:
                raise
            customer_groups.dismiss_wecom_group(session, workspace_id, chat_id)


@handles(CHAT, "dismiss")
async def group_dismissed(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    chat_id = event.fields.get("ChatId", "")
    if chat_id:
        customer_groups.dismiss_wecom_group(session, workspace_id, chat_id)


# -- corp tags ----------------------------------------------------------------------


@handles(TAG)
async def tags_changed(session: Session, workspace_id: int, _event: CallbackEvent) -> None:
    """create, update, delete, shuffle: re-read the whole library (one call)."""
    async with client_for(session, workspace_id) as client:
        await sync.read_tag_library(session, workspace_id, client)


# -- directory ------------------------------------------------------------------------


async def _read_member(
    session: Session, workspace_id: int, client: WecomClient, userid: str
) -> None:
    member = await client.user_get(userid)
    departments = (await client.department_list()).department
    staff_service.sync_wecom_departments(
        session, workspace_id, [sync.department_record(d) for d in departments]
    )
    staff_service.sync_wecom_members(
        session, workspace_id, [sync.member_record(member)], complete=False
    )


@handles(DIRECTORY, "create_user")
@handles(DIRECTORY, "update_user")
async def member_changed(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    userid = event.fields.get("UserID", "")
    new_userid = event.fields.get("NewUserID") or ""
    if new_userid and new_userid != userid:
        staff = staff_service.staff_by_userid(session, workspace_id, userid)
        if (
            staff is not None
            and staff_service.staff_by_userid(session, workspace_id, new_userid) is None
        ):
            staff.wecom_userid = new_userid
            session.flush()
        userid = new_userid
    if not userid:
        return
    async with client_for(session, workspace_id) as client:
        try:
            await _read_member(session, workspace_id, client, userid)
        except WecomApiError as exc:
            if exc.errcode != 60111:  # the member was deleted since
                raise
            staff_service.mark_wecom_member_resigned(session, workspace_id, userid)


@handles(DIRECTORY, "delete_user")
async def member_deleted(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    userid = event.fields.get("UserID", "")
    if userid:
        staff_service.mark_wecom_member_resigned(session, workspace_id, userid)


@handles(DIRECTORY, "create_party")
@handles(DIRECTORY, "update_party")
async def department_changed(session: Session, workspace_id: int, _event: CallbackEvent) -> None:
    async with client_for(session, workspace_id) as client:
        departments = (await client.department_list()).department
    staff_service.sync_wecom_departments(
        session, workspace_id, [sync.department_record(d) for d in departments]
    )


@handles(DIRECTORY, "delete_party")
async def department_deleted(session: Session, workspace_id: int, event: CallbackEvent) -> None:
    wecom_id = event.fields.get("Id", "")
    if wecom_id.isdigit():
        staff_service.delete_wecom_department(session, workspace_id, int(wecom_id))
