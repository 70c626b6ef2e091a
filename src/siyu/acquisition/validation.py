"""Rules a live code must meet before it is saved; each refusal names the field."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from siyu.acquisition import duty
from siyu.acquisition.schemas import AttachmentIn, DefaultWelcome, LiveCodeStaffIn, WelcomeIn
from siyu.exceptions import NotFound, ValidationFailed
from siyu.staff import service as staff_service
from siyu.tags import service as tags_service

WELCOME_TEXT_MAX_BYTES = 4000


def check_staff(
    session: Session, workspace_id: int, code_type: str, staff: Sequence[LiveCodeStaffIn]
) -> None:
    seen: set[int] = set()
    for index, item in enumerate(staff):
        field = f"staff[{index}].staff_id"
        if item.staff_id in seen:
            raise ValidationFailed(field, "this staff member is listed twice")
        seen.add(item.staff_id)
        try:
            member = staff_service.get_staff(session, workspace_id, item.staff_id)
        except NotFound:
            raise ValidationFailed(field, "no such staff member") from None
        if member.status != "active":
            raise ValidationFailed(field, f"staff member {member.name} is not active")
        if not member.wecom_userid:
            raise ValidationFailed(field, f"staff member {member.name} has no WeCom userid")
        for s_index, shift in enumerate(item.schedule):
            for r_index, (start, end) in enumerate(shift.ranges):
                if duty.parse_clock(start) >= duty.parse_clock(end):
                    raise ValidationFailed(
                        f"staff[{index}].schedule[{s_index}].ranges[{r_index}]",
                        "the start must be before the end",
                    )
    primaries = [item for item in staff if not item.is_backup]
    if not primaries:
        raise ValidationFailed("staff", "needs at least one staff member who is not a backup")
    if code_type == duty.CodeType.SINGLE and len(primaries) != 1:
        raise ValidationFailed(
            "staff", "a single-person code has exactly one primary member; add others as backups"
        )


def check_tags(session: Session, workspace_id: int, tag_ids: Sequence[int]) -> list[int]:
    for index, tag_id in enumerate(tag_ids):
        try:
            tags_service.get_tag(session, workspace_id, tag_id)
        except NotFound:
            raise ValidationFailed(f"tag_ids[{index}]", f"no such tag: {tag_id}") from None
    return list(dict.fromkeys(tag_ids))


def check_welcome(welcome: WelcomeIn | DefaultWelcome, field: str) -> None:
    if welcome.text is not None and len(welcome.text.encode()) > WELCOME_TEXT_MAX_BYTES:
        raise ValidationFailed(
            f"{field}.text", f"is {len(welcome.text.encode())} bytes; WeCom allows 4,000"
        )
    for index, attachment in enumerate(welcome.attachments):
        check_attachment(attachment, f"{field}.attachments[{index}]")


def check_attachment(attachment: AttachmentIn, field: str) -> None:
    body = getattr(attachment, attachment.msgtype)
    if body is None:
        raise ValidationFailed(
            f"{field}.{attachment.msgtype}", f"required for msgtype {attachment.msgtype}"
        )
    others = [
        name
        for name in ("image", "link", "miniprogram", "file")
        if name != attachment.msgtype and getattr(attachment, name) is not None
    ]
    if others:
        raise ValidationFailed(
            f"{field}.{others[0]}", f"not allowed with msgtype {attachment.msgtype}"
        )
    if attachment.image is not None and not (attachment.image.media_id or attachment.image.pic_url):
        raise ValidationFailed(f"{field}.image", "give media_id or pic_url")


def check_window(window_from: str | None, window_to: str | None) -> None:
    if (window_from is None) != (window_to is None):
        raise ValidationFailed("skip_verify_to", "give both ends of the window or neither")
    if window_from is not None and window_from == window_to:
        raise ValidationFailed("skip_verify_to", "the window must not be empty")


def member_rows(staff: Sequence[LiveCodeStaffIn]) -> list[dict[str, Any]]:
    return [
        {
            "staff_id": item.staff_id,
            "position": position,
            "weight": item.weight,
            "daily_cap": item.daily_cap,
            "schedule": [shift.model_dump(mode="json") for shift in item.schedule],
            "is_backup": item.is_backup,
        }
        for position, item in enumerate(staff)
    ]
