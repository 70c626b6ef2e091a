"""Per-recipient content: variables filled, links tracked, an unsubscribe link and an open
pixel for email."""

import html as html_lib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from siyu.acquisition.rendering import CUSTOMER_NAME, STAFF_NAME
from siyu.config import get_settings
from siyu.content import links, opens, preferences
from siyu.customers import contact_points
from siyu.messaging import rules as messaging_rules
from siyu.messaging.schemas import Channel
from siyu.models import Broadcast, Delivery
from siyu.staff import service as staff_service

CUSTOM = re.compile(r"\{custom:([A-Za-z0-9_]{1,64})\}")
_VARIABLE = re.compile(
    r"\{(?:(" + re.escape(CUSTOMER_NAME) + r")|(" + re.escape(STAFF_NAME) + r")|"
    r"custom:([A-Za-z0-9_]{1,64}))\}"
)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


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
_URL, _NAME, _STAFF, _CUSTOM = range(4)


class Template:
    """A message text whose links become each recipient's tracked links.

    Filling the variables and then finding and rewriting the links costs scans of the
    whole text per recipient. Here the text is cut once into literal pieces and slots
    (a link, a variable); a recipient's text is the pieces with the slots filled, joined.
    A value put in a slot is never read again, so a name that looks like a variable or a
    link stays as it is. When a variable touches a link (`https://x.cn/?c={custom:code}`)
    the links can only be found after filling, so such a text is done the slow way.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.urls = links.find_links(text)
        self._pieces: list[str] | None = None
        self._slots: list[tuple[int, int, str]] = []  # piece index, kind, url or field
        if _MARK not in text and not any("{" in url or "}" in url for url in self.urls):
            self._cut()

    def _cut(self) -> None:
        token = secrets.token_hex(6)
        markers = {url: f"{_MARK}{token}{i}{_MARK}" for i, url in enumerate(self.urls)}
        by_marker = {marker.strip(_MARK): url for url, marker in markers.items()}
        pieces: list[str] = []
        for index, part in enumerate(links.rewrite_links(self.text, markers).split(_MARK)):
            if index % 2:
                self._slots.append((len(pieces), _URL, by_marker[part]))
                pieces.append("")
                continue
            last = 0
            for match in _VARIABLE.finditer(part):
                pieces.append(part[last : match.start()])
                name, staff, custom = match.groups()
                kind = _NAME if name else _STAFF if staff else _CUSTOM
                self._slots.append((len(pieces), kind, custom or ""))
                pieces.append("")
                last = match.end()
            pieces.append(part[last:])
        self._pieces = pieces

    def render(self, recipient: Recipient, short_urls: Mapping[str, str], *, escape: bool) -> str:
        """The text for `recipient`: variables filled, each link replaced by its short URL."""
        if self._pieces is None:
            return links.rewrite_links(fill(self.text, recipient, escape=escape), short_urls)
        out = self._pieces.copy()
        for index, kind, key in self._slots:
            if kind == _URL:
                out[index] = short_urls.get(key, key)
                continue
            if kind == _NAME:
                value: object = recipient.name
            elif kind == _STAFF:
                value = recipient.staff_name
            else:
                value = recipient.custom_fields.get(key)
            plain = "" if value is None else str(value)
            out[index] = html_lib.escape(plain) if escape else plain
        return "".join(out)


class _Variant:
    """One variant's content, its texts cut and their links found once for the whole send.

    With an open pixel, the HTML is two templates: up to its closing body tag (or all of
    it) and the rest; the pixel goes between them."""

    def __init__(self, broadcast: Broadcast, variant: str | None, *, pixel: bool) -> None:
        content = dict(broadcast.content)
        for option in broadcast.variants or []:
            if option["key"] == variant:
                content = dict(option["content"])
        self.subject: str | None = content.get("subject") or None
        self.text = Template(content["text"]) if content.get("text") else None
        html = content.get("html") or None
        self.html = self.html_tail = None
        if html is not None:
            body_end = [m.start() for m in _BODY_END.finditer(html)]
            cut = body_end[-1] if pixel and body_end else len(html)
            self.html = Template(html[:cut])
            self.html_tail = Template(html[cut:]) if pixel else None
        sms = content.get("sms") or {}
        self.params: dict[str, str] = dict(sms.get("params", {}))
        self.sms = {k: v for k, v in sms.items() if k != "params"} or None
        found = [
            *(template.urls for template in (self.text, self.html, self.html_tail) if template)
        ]
        self.urls = list(dict.fromkeys(url for urls in found for url in urls))

    def render_html(
        self, recipient: Recipient, short_urls: Mapping[str, str], pixel_url: str | None
    ) -> str | None:
        if self.html is None:
            return None
        html = self.html.render(recipient, short_urls, escape=True)
        if self.html_tail is None or pixel_url is None:
            return html
        tail = self.html_tail.render(recipient, short_urls, escape=True)
        return f'{html}<img src="{pixel_url}" width="1" height="1" alt="" style="border:0">{tail}'


class BatchRenderer:
    """Renders a broadcast's deliveries batch by batch; what holds for the whole send (the
    variants' cut templates, the workspace's open-tracking rule, token keys) is found once."""

    def __init__(self, session: Session, broadcast: Broadcast) -> None:
        self.session = session
        self.broadcast = broadcast
        self.email = broadcast.channel == Channel.EMAIL.value
        self.settings = get_settings()
        rules = messaging_rules.read(session, broadcast.workspace_id) if self.email else None
        self.pixels = (
            opens.PixelUrls(self.settings) if rules and rules.email_open_tracking else None
        )
        self.variants: dict[str | None, _Variant] = {}

    def render(self, rows: Sequence[Delivery]) -> list[Rendered]:
        """Fill variables per recipient and turn every link into that recipient's tracked
        link; an email gets its unsubscribe link and, unless turned off, its open pixel."""
        broadcast, session = self.broadcast, self.session
        workspace_id = broadcast.workspace_id
        people = contact_points.profiles(session, workspace_id, [r.customer_id for r in rows])
        staff_ids = sorted({r.staff_id for r in rows if r.staff_id is not None})
        staff_names = (
            staff_service.staff_names(session, workspace_id, staff_ids) if staff_ids else {}
        )
        by_variant: dict[str | None, list[Delivery]] = {}
        for row in rows:
            by_variant.setdefault(row.variant, []).append(row)
        rendered: dict[int, Rendered] = {}
        for key, members in by_variant.items():
            if key not in self.variants:
                self.variants[key] = _Variant(broadcast, key, pixel=self.pixels is not None)
            variant = self.variants[key]
            short = links.track_urls_for_recipients(
                session,
                workspace_id,
                urls=variant.urls,
                broadcast_id=broadcast.id,
                channel=broadcast.channel,
                recipients=[(r.customer_id, r.staff_id) for r in members],
            )
            for row in members:
                name, custom = people.get(row.customer_id, (None, {}))
                recipient = Recipient(
                    delivery_id=row.id,
                    customer_id=row.customer_id,
                    address=row.address or "",
                    staff_id=row.staff_id,
                    variant=row.variant,
                    name=name,
                    staff_name=staff_names.get(row.staff_id) if row.staff_id else None,
                    custom_fields=custom,
                )
                mine = {url: codes[row.customer_id] for url, codes in short.items()}
                pixel = self.pixels.url(workspace_id, row.id) if self.pixels else None
                rendered[row.id] = Rendered(
                    recipient=recipient,
                    subject=fill(variant.subject, recipient) if variant.subject else None,
                    text=variant.text.render(recipient, mine, escape=False)
                    if variant.text
                    else None,
                    html=variant.render_html(recipient, mine, pixel),
                    params={k: fill(v, recipient) for k, v in variant.params.items()},
                    unsubscribe_url=preferences.unsubscribe_url(
                        self.settings, workspace_id, row.customer_id, broadcast.channel
                    )
                    if self.email
                    else None,
                    sms=variant.sms,
                )
        return [rendered[r.id] for r in rows]
