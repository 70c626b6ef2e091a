"""Per-recipient content: variables filled, links tracked, an unsubscribe link for email."""

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from siyu.acquisition.rendering import CUSTOMER_NAME, STAFF_NAME

CUSTOM = re.compile(r"\{custom:([A-Za-z0-9_]{1,64})\}")


@dataclass(frozen=True, slots=True)
class Recipient:
    delivery_id: int
    customer_id: int
    address: str
    staff_id: int | None
    variant: str | None
    name: str | None
    staff_name: str | None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rendered:
    recipient: Recipient
    subject: str | None
    text: str | None
    html: str | None
    params: dict[str, str]
    unsubscribe_url: str | None
    sms: dict[str, str] | None = None


def fill(template: str, recipient: Recipient, *, escape: bool = False) -> str:
    """Fill {客户昵称}, {员工姓名} and {custom:key}; unknown braces stay as written."""

    def value(text: object) -> str:
        plain = "" if text is None else str(text)
        return html_lib.escape(plain) if escape else plain

    text = template.replace("{" + CUSTOMER_NAME + "}", value(recipient.name or ""))
    text = text.replace("{" + STAFF_NAME + "}", value(recipient.staff_name or ""))
    return CUSTOM.sub(lambda m: value(recipient.custom_fields.get(m.group(1), "")), text)
