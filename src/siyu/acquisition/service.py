"""Channel live codes: saving them, attributing the customers they bring, their QR image."""

import secrets
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy.orm import Session

from siyu.acquisition import duty, rendering, roster, validation, wecom
from siyu.acquisition.repository import AcquisitionRepository
from siyu.acquisition.schemas import (
    AttachmentIn,
    DefaultWelcome,
    LiveCodeIn,
    LiveCodeOut,
    LiveCodePatch,
    LiveCodeStaffOut,
    LiveCodeStatus,
    ShiftIn,
    SimulatedScan,
    WelcomeIn,
    WelcomeStatus,
)
from siyu.connectors.wecom.clients import load_connection
from siyu.customers import follow
from siyu.customers import service as customers_service
from siyu.exceptions import Conflict, NotFound, SiyuError, ValidationFailed
from siyu.kit.time import utcnow
from siyu.models import LiveCode, LiveCodeAdd, LiveCodeStaff
from siyu.staff import service as staff_service
from siyu.tags import service as tags_service
from siyu.worker.queue import enqueue
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

DEFAULT_WELCOME_SETTING = "default_welcome"


# -- reading --------------------------------------------------------------------


def get_code(session: Session, workspace_id: int, code_id: int) -> LiveCode:
    code = AcquisitionRepository(session, workspace_id).code(code_id)
    if code is None:
        raise NotFound("live code")
    return code


def _out(
    code: LiveCode,
    members: Sequence[LiveCodeStaff],
    names: dict[int, str],
    counts: tuple[int, int],
    adds_today: dict[int, int],
) -> LiveCodeOut:
    return LiveCodeOut(
        id=code.id,
        name=code.name,
        channel=code.channel,
        state=code.state,
        code_type=duty.CodeType(code.code_type),
        rotation=duty.Rotation(code.rotation),
        status=LiveCodeStatus(code.status),
        skip_verify=code.skip_verify,
        skip_verify_from=code.skip_verify_from,
        skip_verify_to=code.skip_verify_to,
        daily_cap=code.daily_cap,
        remark_template=code.remark_template,
        welcome=WelcomeIn(
            text=code.welcome_text,
            attachments=[AttachmentIn.model_validate(a) for a in code.welcome_attachments],
        ),
        tag_ids=list(code.tag_ids),
        staff=[
            LiveCodeStaffOut(
                staff_id=m.staff_id,
                staff_name=names.get(m.staff_id),
                weight=m.weight,
                daily_cap=m.daily_cap,
                schedule=[ShiftIn.model_validate(s) for s in m.schedule],
                is_backup=m.is_backup,
                on_duty=m.staff_id in code.on_duty_staff_ids,
                adds_today=adds_today.get(m.staff_id, 0),
            )
            for m in members
        ],
        config_id=code.config_id,
        qr_code=code.qr_code,
        synced_at=code.synced_at,
        sync_error=code.sync_error,
        adds_today=counts[0],
        adds_total=counts[1],
        created_at=code.created_at,
    )


def list_codes(session: Session, workspace_id: int, status: str | None = None) -> list[LiveCodeOut]:
    """Every live code with its staff and add counts, in a fixed number of queries."""
    repo = AcquisitionRepository(session, workspace_id)
    codes = repo.codes(status)
    members = repo.members([c.id for c in codes])
    staff_ids = sorted({m.staff_id for rows in members.values() for m in rows})
    names = staff_service.staff_names(session, workspace_id, staff_ids)
    today = roster.start_of_day(roster.local_now(session, workspace_id))
    counts = repo.add_counts(today)
    per_staff = repo.adds_per_code_and_staff(today)
    return [
        _out(
            code,
            members[code.id],
            names,
            counts.get(code.id, (0, 0)),
            {staff: n for (code_id, staff), n in per_staff.items() if code_id == code.id},
        )
        for code in codes
    ]


def code_out(session: Session, workspace_id: int, code_id: int) -> LiveCodeOut:
    repo = AcquisitionRepository(session, workspace_id)
    code = get_code(session, workspace_id, code_id)
    members = repo.members([code.id])[code.id]
    names = staff_service.staff_names(session, workspace_id, [m.staff_id for m in members])
    today = roster.start_of_day(roster.local_now(session, workspace_id))
    counts = repo.add_counts(today).get(code.id, (0, 0))
    return _out(code, members, names, counts, repo.adds_per_staff(code.id, today))


# -- writing --------------------------------------------------------------------


def _new_state(repo: AcquisitionRepository) -> str:
    while True:
        state = f"lc{secrets.token_hex(6)}"
        if not repo.state_taken(state):
            return state


def _welcome_columns(welcome: WelcomeIn) -> dict[str, Any]:
    return {
        "welcome_text": welcome.text or None,
        "welcome_attachments": [
            a.model_dump(mode="json", exclude_none=True) for a in welcome.attachments
        ],
    }


async def create_code(session: Session, principal: Principal, body: LiveCodeIn) -> LiveCodeOut:
    """Validate, store, and create the WeCom contact way with whoever is on duty now."""
    workspace_id = principal.workspace_id
    repo = AcquisitionRepository(session, workspace_id)
    validation.check_staff(session, workspace_id, body.code_type, body.staff)
    tag_ids = validation.check_tags(session, workspace_id, body.tag_ids)
    validation.check_welcome(body.welcome, "welcome")
    validation.check_window(body.skip_verify_from, body.skip_verify_to)
    code = LiveCode(
        workspace_id=workspace_id,
        name=body.name.strip(),
        channel=body.channel.strip(),
        state=_new_state(repo),
        code_type=body.code_type.value,
        rotation=body.rotation.value,
        skip_verify=body.skip_verify,
        skip_verify_from=body.skip_verify_from,
        skip_verify_to=body.skip_verify_to,
        daily_cap=body.daily_cap,
        remark_template=body.remark_template or None,
        tag_ids=tag_ids,
        status=LiveCodeStatus.ACTIVE.value,
        on_duty_staff_ids=[],
        **_welcome_columns(body.welcome),
    )
    session.add(code)
    session.flush()
    repo.replace_members(code.id, validation.member_rows(body.staff))
    await roster.sync_contact_way(session, code, force=True)
    roster.ensure_refresh_schedule(session, workspace_id)
    workspace_service.audit(
        session,
        principal,
        "live_code.create",
        target_type="live_code",
        target_id=code.id,
        details={"name": code.name, "state": code.state, "config_id": code.config_id},
    )
    return code_out(session, workspace_id, code.id)


async def update_code(
    session: Session, principal: Principal, code_id: int, changes: LiveCodePatch
) -> LiveCodeOut:
    """Change a code; WeCom's contact way is updated when its users or skip_verify change."""
    workspace_id = principal.workspace_id
    repo = AcquisitionRepository(session, workspace_id)
    code = get_code(session, workspace_id, code_id)
    sent = changes.model_dump(exclude_unset=True)
    if changes.staff is not None:
        validation.check_staff(session, workspace_id, code.code_type, changes.staff)
        repo.replace_members(code.id, validation.member_rows(changes.staff))
    if changes.tag_ids is not None:
        code.tag_ids = validation.check_tags(session, workspace_id, changes.tag_ids)
    if changes.welcome is not None:
        validation.check_welcome(changes.welcome, "welcome")
        for key, value in _welcome_columns(changes.welcome).items():
            setattr(code, key, value)
    window_from = sent.get("skip_verify_from", code.skip_verify_from)
    window_to = sent.get("skip_verify_to", code.skip_verify_to)
    validation.check_window(window_from, window_to)
    for name in ("name", "channel", "skip_verify", "daily_cap", "remark_template", "status"):
        if name in sent:
            if sent[name] is None and name in ("name", "channel", "skip_verify", "status"):
                raise ValidationFailed(name, "must not be null")
            setattr(code, name, sent[name].strip() if name in ("name", "channel") else sent[name])
    if changes.rotation is not None:
        code.rotation = changes.rotation.value
    code.skip_verify_from, code.skip_verify_to = window_from, window_to
    session.flush()
    await roster.sync_contact_way(session, code, force="name" in sent)
    workspace_service.audit(
        session,
        principal,
        "live_code.update",
        target_type="live_code",
        target_id=code.id,
        details={"fields": sorted(sent)},
    )
    return code_out(session, workspace_id, code.id)


async def delete_code(session: Session, principal: Principal, code_id: int) -> None:
    """Delete the WeCom contact way and mark the code deleted; its adds stay for statistics."""
    code = get_code(session, principal.workspace_id, code_id)
    if code.config_id is not None:
        await wecom.del_contact_way(session, code.workspace_id, code.config_id)
    code.status = LiveCodeStatus.DELETED.value
    session.flush()
    workspace_service.audit(
        session,
        principal,
        "live_code.delete",
        target_type="live_code",
        target_id=code.id,
        details={"name": code.name, "config_id": code.config_id},
    )


# -- the workspace's default welcome -------------------------------------------


def default_welcome(session: Session, workspace_id: int) -> DefaultWelcome:
    settings = workspace_service.get_workspace(session, workspace_id).settings or {}
    return DefaultWelcome.model_validate(settings.get(DEFAULT_WELCOME_SETTING) or {})


def set_default_welcome(
    session: Session, principal: Principal, welcome: DefaultWelcome
) -> DefaultWelcome:
    validation.check_welcome(welcome, "welcome")
    workspace = workspace_service.get_workspace(session, principal.workspace_id)
    workspace.settings = {
        **(workspace.settings or {}),
        DEFAULT_WELCOME_SETTING: welcome.model_dump(mode="json", exclude_none=True),
    }
    session.flush()
    workspace_service.audit(
        session,
        principal,
        "live_code.default_welcome",
        target_type="workspace",
        target_id=principal.workspace_id,
        details={},
    )
    return default_welcome(session, principal.workspace_id)


# -- a customer added through a code --------------------------------------------

SEND_WELCOME_JOB = "acquisition.send_welcome"
AFTER_ADD_JOB = "acquisition.after_add"
WECOM_REMARK_MAX = 20
GENERIC_SOURCES = (None, "", "wecom")


def variables(
    session: Session, workspace_id: int, code: LiveCode, customer_id: int, staff_id: int
) -> dict[str, str]:
    """Values of the welcome and remark variables; a customer merged since the add is read
    through its survivor, one deleted since has no name."""
    live = customers_service.live_customer_ids(session, workspace_id, [customer_id])
    try:
        customer = customers_service.get_customer(
            session, Principal.system(workspace_id), live.get(customer_id, customer_id)
        )
        name = customer.name or ""
    except NotFound:
        name = ""
    staff = staff_service.get_staff(session, workspace_id, staff_id)
    return {
        rendering.CUSTOMER_NAME: name,
        rendering.STAFF_NAME: staff.name,
        rendering.CHANNEL: code.channel,
    }


def welcome_of(session: Session, code: LiveCode) -> DefaultWelcome:
    """The code's welcome message, else the workspace default (possibly empty)."""
    if code.welcome_text or code.welcome_attachments:
        return DefaultWelcome(
            text=code.welcome_text,
            attachments=[AttachmentIn.model_validate(a) for a in code.welcome_attachments],
        )
    return default_welcome(session, code.workspace_id)


def _attribute(
    session: Session,
    workspace_id: int,
    code: LiveCode,
    customer_id: int,
    staff_id: int,
    remark: str | None,
) -> None:
    """Put the code's state (and remark) on the follow relation, the channel on the customer."""
    system = Principal.system(workspace_id)
    relations = follow.follow_relations(session, system, customer_id)
    current = next((r for r in relations if r.staff_id == staff_id), None)
    follow.upsert_follow_relation(
        session,
        workspace_id,
        customer_id,
        staff_id,
        added_at=current.added_at if current else utcnow(),
        remark=remark or (current.remark if current else None),
        description=current.description if current else None,
        add_way=current.add_way if current else None,
        state=code.state,
        status=current.status if current else "active",
    )
    customer = customers_service.get_customer(session, system, customer_id)
    if customer.source in GENERIC_SOURCES:
        customers_service.update_profile(session, system, customer_id, {"source": code.channel})


def _live_tag_ids(session: Session, workspace_id: int, tag_ids: Sequence[int]) -> list[int]:
    live = []
    for tag_id in tag_ids:
        try:
            live.append(tags_service.get_tag(session, workspace_id, tag_id).id)
        except NotFound:
            continue  # deleted since the code was saved
    return live


def handle_new_contact(
    session: Session,
    *,
    workspace_id: int,
    customer_id: int,
    staff_id: int,
    external_userid: str,
    state: str | None,
    welcome_code: str | None,
) -> None:
    """A customer added a staff member: if through a live code, attribute, tag, welcome.

    Called by the WeCom sync after it has upserted the customer and the follow relation.
    Idempotent: a repeated callback for the same add changes nothing. The welcome message
    goes out from a realtime-lane job (WeCom's welcome code lives 20 seconds).
    """
    if not state:
        return
    repo = AcquisitionRepository(session, workspace_id)
    code = repo.code_by_state(state)
    if code is None:
        return
    previous = repo.latest_add(code.id, customer_id, staff_id)
    if (
        previous is not None
        and previous.lost_at is None
        and (welcome_code is None or previous.welcome_code == welcome_code)
    ):
        return
    add = LiveCodeAdd(
        workspace_id=workspace_id,
        live_code_id=code.id,
        customer_id=customer_id,
        staff_id=staff_id,
        external_userid=external_userid,
        added_at=utcnow(),
        welcome_code=welcome_code,
        welcome_status=WelcomeStatus.PENDING.value,
    )
    session.add(add)
    session.flush()
    values = variables(session, workspace_id, code, customer_id, staff_id)
    remark = (
        rendering.render(code.remark_template, values)[:WECOM_REMARK_MAX] or None
        if code.remark_template
        else None
    )
    _attribute(session, workspace_id, code, customer_id, staff_id, remark)
    tag_ids = _live_tag_ids(session, workspace_id, code.tag_ids)
    if tag_ids:
        tags_service.add_tags(
            session,
            workspace_id,
            [customer_id],
            tag_ids,
            source=tags_service.TagSource.RULE,
            actor=f"live_code:{code.id}",
        )
    welcome = welcome_of(session, code)
    if not (welcome.text or welcome.attachments):
        add.welcome_status = WelcomeStatus.SKIPPED.value
        add.welcome_error = "no welcome message: the code has none and no default is set"
    elif welcome_code is None:
        add.welcome_status = WelcomeStatus.SKIPPED.value
        add.welcome_error = (
            "WeCom sent no welcome code (a welcome message is set in the WeCom admin, "
            "or the customer had already chatted with the staff member)"
        )
    else:
        enqueue(
            session,
            SEND_WELCOME_JOB,
            {"add_id": add.id},
            workspace_id=workspace_id,
            lane="realtime",
            dedupe_key=f"{SEND_WELCOME_JOB}:{add.id}",
        )
    enqueue(
        session,
        AFTER_ADD_JOB,
        {"add_id": add.id, "remark": remark, "tag_ids": tag_ids},
        workspace_id=workspace_id,
        lane="realtime",
        dedupe_key=f"{AFTER_ADD_JOB}:{add.id}",
    )
    session.flush()


# -- the QR code image ----------------------------------------------------------

QR_FETCH_TIMEOUT_SECONDS = 10.0


class QrUnavailable(SiyuError):
    status_code = 502
    code = "qr_unavailable"


async def qr_image(session: Session, workspace_id: int, code_id: int) -> bytes:
    """The code's QR PNG, fetched once from WeCom's qr_code URL and then kept."""
    code = AcquisitionRepository(session, workspace_id).code(code_id, with_image=True)
    if code is None:
        raise NotFound("live code")
    if code.qr_image:
        return code.qr_image
    if not code.qr_code:
        raise Conflict("this code has no QR code yet: its WeCom contact way was not created")
    try:
        async with httpx.AsyncClient(
            timeout=QR_FETCH_TIMEOUT_SECONDS, follow_redirects=True
        ) as http:
            response = await http.get(code.qr_code)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        raise QrUnavailable(f"could not download the QR code from WeCom: {exc}") from exc
    code.qr_image = response.content
    session.flush()
    return response.content


# -- the demo's simulated customer ------------------------------------------------


class SimulatorUnavailable(SiyuError):
    status_code = 502
    code = "simulator_unavailable"


async def simulate_scan(
    session: Session, workspace_id: int, code_id: int, *, name: str | None, demo: bool
) -> SimulatedScan:
    """Demo mode only: a simulated customer scans the code in the WeCom simulator, which
    then pushes the add_external_contact callback to Siyu like WeCom would."""
    if not demo:
        raise NotFound("WeCom simulator", {"hint": "only in demo mode (siyu demo)"})
    code = get_code(session, workspace_id, code_id)
    if code.config_id is None:
        raise Conflict("this code has no WeCom contact way yet")
    base_url = load_connection(session, workspace_id).api_base_url.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=QR_FETCH_TIMEOUT_SECONDS) as http:
            response = await http.post(
                f"{base_url}/control/scan", json={"config_id": code.config_id, "name": name}
            )
            response.raise_for_status()
    except httpx.HTTPError as exc:
        raise SimulatorUnavailable(f"the WeCom simulator did not take the scan: {exc}") from exc
    return SimulatedScan.model_validate(response.json())
