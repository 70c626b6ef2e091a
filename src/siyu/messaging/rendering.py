"""Per-recipient content: variables filled, links tracked, an unsubscribe link for email."""

import html as html_lib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from siyu.acquisition.rendering import CUSTOMER_NAME, STAFF_NAME
from siyu.content import links

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
    if "{custom:" not in text:
        return text
    return CUSTOM.sub(lambda m: value(recipient.custom_fields.get(m.group(1), "")), text)


_MARK = "\x00"


class Template:
    """A message text whose links become each recipient's tracked links.

    Filling the variables and then finding and rewriting the links costs a scan of the
    whole text per recipient. Here the links are found once: each is replaced by a
    marker, and a recipient's text is the filled template with the markers swapped for
    their short URLs. When a variable touches a link (`https://x.cn/?c={custom:code}`)
    the links can only be found after filling, so such a text is done the slow way.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.urls = links.find_links(text)
        self._marked: str | None = None
        if _MARK not in text and not any("{" in url or "}" in url for url in self.urls):
            token = secrets.token_hex(6)
            self._keys = {f"{token}{i}": url for i, url in enumerate(self.urls)}
            markers = {url: f"{_MARK}{key}{_MARK}" for key, url in self._keys.items()}
            self._marked = links.rewrite_links(text, markers)
            self._markers = 2 * self._marked.count(f"{_MARK}{token}")

    def render(self, recipient: Recipient, short_urls: Mapping[str, str], *, escape: bool) -> str:
        """The text for `recipient`: variables filled, each link replaced by its short URL."""
        if self._marked is not None:
            filled = fill(self._marked, recipient, escape=escape)
            if filled.count(_MARK) == self._markers:  # no value brought a marker of its own
                pieces = filled.split(_MARK)
                for index in range(1, len(pieces), 2):
                    url = self._keys[pieces[index]]
                    pieces[index] = short_urls.get(url, url)
                return "".join(pieces)
        return links.rewrite_links(fill(self.text, recipient, escape=escape), short_urls)
