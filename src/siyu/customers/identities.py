"""Identity kinds, their normalisation and masking (design.md §2.2)."""

from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from siyu.exceptions import ValidationFailed

DEFAULT_REGION = "CN"
MAX_VALUE_LENGTH = 200
_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class IdentityKind(StrEnum):
    """Listed from the most to the least specific; the order breaks ties between matches."""

    WECOM_EXTERNAL_USERID = "wecom_external_userid"
    WECHAT_UNIONID = "wechat_unionid"
    WECHAT_OPENID = "wechat_openid"  # value "<appid>:<openid>" (an openid is per app)
    MOBILE = "mobile"  # E.164, e.g. +8613800138000
    EMAIL = "email"
    TAOBAO_BUYER_ID = "taobao_buyer_id"  # Taobao and Tmall
    JD_BUYER_ID = "jd_buyer_id"
    PDD_BUYER_ID = "pdd_buyer_id"
    DOUYIN_BUYER_ID = "douyin_buyer_id"
    YOUZAN_BUYER_ID = "youzan_buyer_id"
    STORE_MEMBER_NO = "store_member_no"
    APP_USER_ID = "app_user_id"


KIND_ORDER: dict[str, int] = {kind.value: rank for rank, kind in enumerate(IdentityKind)}


class IdentityRef(NamedTuple):
    """A (kind, value) pair; a tuple, so bulk paths can pass plain (kind, value) tuples."""

    kind: str
    value: str


def normalize(kind: str, value: str, *, field: str = "identity") -> IdentityRef:
    """Check and canonicalise one identity; errors name `field`."""
    try:
        return _canonical(kind.strip().lower(), value.strip())
    except _Invalid as exc:
        raise ValidationFailed(field, str(exc)) from exc


class _Invalid(ValueError):
    pass


# Identities recur (every event of a customer carries the same ones), and parsing a mobile
# costs more than resolving it, so canonical forms are remembered.
@lru_cache(maxsize=65536)
def _canonical(kind: str, text: str) -> IdentityRef:
    if kind not in KIND_ORDER:
        raise _Invalid(f"unknown identity kind {kind!r}")
    if not text:
        raise _Invalid(f"{kind} is empty")
    if kind == IdentityKind.MOBILE:
        text = _mobile(text)
    elif kind == IdentityKind.EMAIL:
        text = _email(text)
    elif kind == IdentityKind.WECHAT_OPENID:
        appid, _, openid = text.partition(":")
        if not appid.strip() or not openid.strip():
            raise _Invalid("wechat_openid must be '<appid>:<openid>'")
        text = f"{appid.strip()}:{openid.strip()}"
    if len(text) > MAX_VALUE_LENGTH:
        raise _Invalid(f"{kind} is longer than {MAX_VALUE_LENGTH} characters")
    return IdentityRef(kind, text)


def _mobile(text: str) -> str:
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise _Invalid(f"not a phone number: {text!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise _Invalid(f"not a valid phone number: {text!r}")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise _Invalid(f"not a mobile number: {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(text: str) -> str:
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise _Invalid(f"not an email address: {exc}") from exc
    return checked.normalized.lower()


def mask(kind: str, value: str) -> str:
    """Hide the middle of an identity for roles that must not see personal data."""
    if kind == IdentityKind.MOBILE:
        return _mask_mobile(value)
    if kind == IdentityKind.EMAIL:
        local, at, domain = value.rpartition("@")
        if at:
            return f"{local[:1]}***@{domain}"
    if kind == IdentityKind.WECHAT_OPENID:
        appid, colon, openid = value.partition(":")
        if colon:
            return f"{appid}:{_mask_middle(openid)}"
    return _mask_middle(value)


def _mask_mobile(value: str) -> str:
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return _mask_middle(value)
    national = str(number.national_number)
    if len(national) <= 7:
        return f"+{number.country_code}{'*' * len(national)}"
    return f"+{number.country_code}{national[:3]}****{national[-4:]}"


def _mask_middle(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    keep = 2 if len(value) < 10 else 3
    return f"{value[:keep]}***{value[-keep:]}"
