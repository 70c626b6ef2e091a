"""After an add through a live code: the welcome message, then remark, tags and rotation."""

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.acquisition import rendering, roster, service, validation, wecom
from siyu.acquisition.repository import AcquisitionRepository
from siyu.acquisition.schemas import WelcomeStatus
from siyu.exceptions import NotFound
from siyu.kit.time import utcnow
from siyu.models import LiveCodeAdd
from siyu.staff import service as staff_service
from siyu.tags import service as tags_service

# WeCom's welcome code is valid 20 seconds and single use.
WELCOME_CODE_TTL = timedelta(seconds=20)
# WeCom's "system busy": worth another try while the code is still valid.
SYSTEM_BUSY = -1


GONE = "gone"


def _fail(add: LiveCodeAdd, errcode: int | None, error: str) -> None:
    add.welcome_status = WelcomeStatus.FAILED.value
    add.welcome_errcode = errcode
    add.welcome_error = error[:500]


def welcome_body(
    session: Session, workspace_id: int, add: LiveCodeAdd
) -> tuple[str | None, list[dict[str, Any]]]:
    """The text (variables filled) and attachments to send for this add."""
    code = AcquisitionRepository(session, workspace_id).code(add.live_code_id, deleted=True)
    if code is None:
        raise NotFound("live code")
    welcome = service.welcome_of(session, code)
    values = service.variables(session, workspace_id, code, add.customer_id, add.staff_id)
    text = rendering.render(welcome.text, values) if welcome.text else None
    attachments = [a.model_dump(mode="json", exclude_none=True) for a in welcome.attachments]
    return text, attachments


async def send_welcome(session: Session, workspace_id: int, add_id: int) -> str:
    """Send the welcome message of one add; the outcome is recorded on the add, never lost.

    WeCom's refusals (41050 expired code, 41051 already chatting, 84061 …) are final and
    recorded with WeCom's message. A transient failure is retried only while the
    welcome code can still be valid; after that the add is failed as expired.
    """
    add = AcquisitionRepository(session, workspace_id).add(add_id)
    if add is None:  # the customer was deleted (or merged away) since the add
        return GONE
    if add.welcome_status != WelcomeStatus.PENDING.value or add.welcome_code is None:
        return add.welcome_status
    text, attachments = welcome_body(session, workspace_id, add)
    if len((text or "").encode()) > validation.WELCOME_TEXT_MAX_BYTES:
        _fail(add, None, "the welcome text is over 4,000 bytes once variables are filled")
        return add.welcome_status
    expired = utcnow() - add.added_at > WELCOME_CODE_TTL
    try:
        await wecom.send_welcome_msg(session, workspace_id, add.welcome_code, text, attachments)
    except wecom.WecomApiError as exc:
        if exc.errcode == SYSTEM_BUSY and not expired:
            raise
        _fail(add, exc.errcode, wecom.describe(exc))
    except Exception as exc:
        if not expired:
            raise
        _fail(add, None, f"welcome code expired before WeCom could be reached: {exc}")
    else:
        add.welcome_status = WelcomeStatus.SENT.value
        add.welcome_sent_at = utcnow()
        add.welcome_errcode = add.welcome_error = None
    session.flush()
    return add.welcome_status


async def after_add(
    session: Session, workspace_id: int, add_id: int, remark: str | None, tag_ids: list[int]
) -> dict[str, Any]:
    """Mirror the remark and tags in WeCom, then move the code's rotation on."""
    add = AcquisitionRepository(session, workspace_id).add(add_id)
    if add is None:
        return {"add": GONE}
    staff = staff_service.get_staff(session, workspace_id, add.staff_id)
    if staff.wecom_userid and remark:
        await wecom.remark(session, workspace_id, staff.wecom_userid, add.external_userid, remark)
    wecom_tags = []
    for tag_id in tag_ids:
        try:
            tag = tags_service.get_tag(session, workspace_id, tag_id)
        except NotFound:
            continue
        if tag.wecom_tag_id:
            wecom_tags.append(tag.wecom_tag_id)
    if staff.wecom_userid and wecom_tags:
        await wecom.mark_tags(
            session, workspace_id, staff.wecom_userid, add.external_userid, wecom_tags
        )
    code = AcquisitionRepository(session, workspace_id).code(add.live_code_id)
    rotated = False
    if code is not None and code.status == "active":
        try:
            rotated = await roster.sync_contact_way(session, code, advance=True)
        except wecom.WecomApiError as exc:
            code.sync_error = wecom.describe(exc)[:500]
    return {"remarked": bool(remark), "wecom_tags": len(wecom_tags), "rotated": rotated}
