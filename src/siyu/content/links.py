"""Tracked links: every link sent to a customer becomes a short link that knows who got it.

A link is minted per (broadcast, customer, url) with the sending staff member and channel.
Opening `/l/{code}` redirects to its target and counts the open:

- The browser is known by a first-party cookie (a random visitor key). A visitor becomes
  a customer when it opens a link of that customer's own.
- Who opened it is decided by these rules, in order:
  1. the visitor is bound to the link's customer: the customer's own open;
  2. the visitor is bound to another customer: a share, link customer → that customer;
  3. the visitor is anonymous and nobody has opened the link as its owner yet: the first
     open is the owner's (they got the link, so they are the likeliest first opener); the
     visitor is bound to the link's customer;
  4. otherwise: a share to an anonymous visitor.
  An anonymous visitor who later opens a link of their own (rule 3) is bound then, and
  every share edge that reached it joins the chain as that customer — this is what makes
  A → B → C chains with per-recipient links (posters, forwarded broadcasts).
  Known limit: an owner opening their link on a second device counts as a share to an
  anonymous visitor (no sign-in here proves who holds a phone).
- An own open is a `link_opened` event on the customer's timeline (so segments can
  target it); so is a share open by a known customer, with `shared_by` naming the sharer.
- Bot and prefetch requests redirect but are never counted (see `counts_as_open`).
- A customer's own open of a link of a broadcast marks their delivery opened too
  (messaging/opens.py), like the open pixel of an email.
"""

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawlerdetect import CrawlerDetect  # type: ignore[import-untyped]
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from siyu.config import Settings, get_settings
from siyu.content.links_repository import LinksRepository, link_by_code
from siyu.events import registry
from siyu.events import service as events_service
from siyu.events.schemas import CustomerRefIn, EventIn, EventTypeIn
from siyu.exceptions import Conflict, NotFound, SiyuError, ValidationFailed
from siyu.kit.time import utcnow
from siyu.messaging import opens as messaging_opens
from siyu.models import LinkVisitor, TrackedLink
from siyu.workspace.principal import Principal

log = logging.getLogger(__name__)

LINK_OPENED = "link_opened"
LINK_OPENED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "maxLength": 2048},
        "link_code": {"type": "string", "maxLength": 16},
        "broadcast_id": {"type": ["integer", "null"]},
        "channel": {"type": "string", "maxLength": 16},
        "shared_by": {
            "type": ["integer", "null"],
            "description": "the customer who forwarded the link; null for their own link",
        },
    },
    "required": ["url", "channel"],
}
EVENT_ACTOR = "links"

CODE_BYTES = 8  # token_urlsafe(8): 11 characters, 64 random bits
CODE_LENGTH = 11  # characters of a code, as token_urlsafe(CODE_BYTES) makes them
MAX_URL_LENGTH = 2048
MAX_CHANNEL_LENGTH = 16
MINT_ATTEMPTS = 3
VISITOR_KEY = re.compile(r"[A-Za-z0-9_-]{22}")
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,16}")

# http(s) URLs in message text: up to whitespace, CJK text or full-width punctuation, and
# without trailing ASCII punctuation that ends a sentence ("见 https://x.cn/a。" → the URL
# ends before "。"; "(https://x.cn/a)" → before ")").
_URL = re.compile(r"https?://[^\s<>\"'\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True)
class Opened:
    """Where to send the browser, and the visitor key to (re)set in its cookie."""

    url: str
    visitor_key: str | None


# -- short URLs and message text ---------------------------------------------------


def short_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url.rstrip('/')}/l/{code}"


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            # Keep a closing bracket that closes one opened inside the URL (wiki-style).
            if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
                break
            end -= 1
        if end - start > len("https://"):
            spans.append((start, end))
    return spans


def find_links(text: str) -> list[str]:
    """The http(s) URLs in `text`, each once, in order of first appearance."""
    return list(dict.fromkeys(text[start:end] for start, end in _url_spans(text)))


def rewrite_links(text: str, short_urls: Mapping[str, str]) -> str:
    """`text` with each http(s) URL found replaced by its short URL (others left alone)."""
    parts: list[str] = []
    last = 0
    for start, end in _url_spans(text):
        url = text[start:end]
        parts.append(text[last:start])
        parts.append(short_urls.get(url, url))
        last = end
    parts.append(text[last:])
    return "".join(parts)


# -- minting -----------------------------------------------------------------------


def _check_url(url: str) -> str:
    if not re.match(r"https?://[^\s/]+", url, re.IGNORECASE) or any(c.isspace() for c in url):
        raise ValidationFailed("url", "must be an http(s) URL without spaces")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed("url", f"is longer than {MAX_URL_LENGTH} characters")
    return url


def new_codes(count: int) -> list[str]:
    """`count` random link codes of CODE_LENGTH characters (6 random bits each), cut from
    one draw of random bytes: a call of `secrets.token_urlsafe` per code costs more than
    the rest of minting."""
    drawn = CODE_LENGTH * count * 6 // 8 + 3
    text = base64.urlsafe_b64encode(secrets.token_bytes(drawn - drawn % 3)).decode("ascii")
    return [text[i : i + CODE_LENGTH] for i in range(0, CODE_LENGTH * count, CODE_LENGTH)]


def _dedupe_key(broadcast_id: int | None, customer_id: int, url: str) -> str:
    scope = "" if broadcast_id is None else str(broadcast_id)
    return hashlib.sha256(f"{scope}\n{customer_id}\n{url}".encode()).hexdigest()


def track_for_recipients(
    session: Session,
    workspace_id: int,
    *,
    url: str,
    broadcast_id: int | None,
    channel: str,
    recipients: Sequence[tuple[int, int | None]],
) -> dict[int, str]:
    """Mint a short link of `url` per recipient (customer_id, staff_id); returns
    customer_id -> full short URL. See `track_urls_for_recipients`."""
    return track_urls_for_recipients(
        session,
        workspace_id,
        urls=[url],
        broadcast_id=broadcast_id,
        channel=channel,
        recipients=recipients,
    ).get(url, {})


def track_urls_for_recipients(
    session: Session,
    workspace_id: int,
    *,
    urls: Sequence[str],
    broadcast_id: int | None,
    channel: str,
    recipients: Sequence[tuple[int, int | None]],
) -> dict[str, dict[int, str]]:
    """Mint a short link of each of `urls` per recipient (customer_id, staff_id); returns
    url -> customer_id -> full short URL.

    Idempotent: a second call for the same (broadcast, customer, url) returns the codes of
    the first (a resumed send never mints new links; the first staff and channel stay).
    A constant number of statements whatever the number of recipients and URLs: one
    INSERT … ON CONFLICT DO NOTHING and, unless every row was new, one SELECT of the codes
    stored before (plus one to check the event type is registered). The caller vouches
    that the customers are of this workspace.
    """
    for url in urls:
        _check_url(url)
    if not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise ValidationFailed("channel", f"must be 1 to {MAX_CHANNEL_LENGTH} characters")
    staff_of: dict[int, int | None] = {}
    for customer_id, staff_id in recipients:
        staff_of.setdefault(customer_id, staff_id)
    if not staff_of or not urls:
        return {}
    ensure_event_type(session, workspace_id)
    repo = LinksRepository(session, workspace_id)
    keys = {
        (url, customer_id): _dedupe_key(broadcast_id, customer_id, url)
        for url in dict.fromkeys(urls)
        for customer_id in staff_of
    }
    now = utcnow()
    found: dict[str, str] = {}
    for _ in range(MINT_ATTEMPTS):
        missing = [pair for pair, key in keys.items() if key not in found]
        if not missing:
            break
        codes = dict(zip((keys[pair] for pair in missing), new_codes(len(missing)), strict=True))
        rows = [
            {
                "workspace_id": workspace_id,
                "code": codes[keys[url, customer_id]],
                "dedupe_key": keys[url, customer_id],
                "url": url,
                "customer_id": customer_id,
                "staff_id": staff_of[customer_id],
                "broadcast_id": broadcast_id,
                "channel": channel,
                "created_at": now,
            }
            for url, customer_id in missing
        ]
        if repo.insert_links(rows) == len(rows):  # all new: the codes are the ones minted
            found.update(codes)
            break
        # A row is skipped only when its key exists (found now) or, at 2^-66 odds per
        # pair, its random code does (minted again on the next round).
        stored = repo.codes_by_dedupe_key([keys[pair] for pair in missing])
        found.update((key, code) for key, (_, code) in stored.items())
    if any(key not in found for key in keys.values()):
        raise Conflict("could not mint unique link codes; try again")
    prefix = short_url(get_settings(), "")
    minted: dict[str, dict[int, str]] = {}
    for (url, customer_id), key in keys.items():
        minted.setdefault(url, {})[customer_id] = prefix + found[key]
    return minted


def ensure_event_type(session: Session, workspace_id: int) -> None:
    """Register `link_opened` with its properties schema, unless it is registered."""
    try:
        registry.get_type(session, workspace_id, LINK_OPENED)
    except NotFound:
        pass
    else:
        return
    data = EventTypeIn(
        name=LINK_OPENED, display_name="打开链接", properties_schema=LINK_OPENED_SCHEMA
    )
    try:
        with session.begin_nested():
            registry.create_type(session, Principal.system(workspace_id), data)
    except (Conflict, IntegrityError):
        pass  # registered meanwhile by a concurrent open or send


# -- opening -----------------------------------------------------------------------

_crawlers = CrawlerDetect()
# Headers browsers send with speculative loads (<link rel=prefetch>, Chrome's prerender,
# Safari's "Top Hits" preloading): those loads are not a person opening the link.
_PREFETCH_HEADERS = ("purpose", "sec-purpose", "x-purpose", "x-moz")


def counts_as_open(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a request to a short link is a person opening it. Not counted:

    - HEAD requests (link checkers and unfurlers probe with HEAD);
    - prefetch / prerender / preview requests (`Purpose`, `Sec-Purpose`, `X-Purpose` or
      `X-Moz` saying prefetch, prerender or preview);
    - no User-Agent at all (scripts; every browser sends one);
    - a User-Agent CrawlerDetect knows as a bot, crawler, link unfurler or HTTP library
      (Googlebot, Baiduspider, facebookexternalhit, Slackbot, TelegramBot, WhatsApp,
      curl, python-requests, okhttp, Go-http-client …);
    - WeChat's and WeCom's link-preview fetchers: a User-Agent naming MicroMessenger or
      wxwork without "NetType/". The in-app browsers of WeChat and WeCom (phone, Windows,
      Mac) always report their network type; the servers that fetch a page to draw the
      link card in a chat do not.
    """
    if method.upper() != "GET":
        return False
    for name in _PREFETCH_HEADERS:
        value = headers.get(name, "").lower()
        if any(word in value for word in ("prefetch", "prerender", "preview")):
            return False
    agent = headers.get("user-agent", "").strip()
    if not agent:
        return False
    lowered = agent.lower()
    if ("micromessenger" in lowered or "wxwork" in lowered) and "nettype/" not in lowered:
        return False
    return not _crawlers.isCrawler(agent)


def visit(
    session: Session,
    code: str,
    *,
    method: str,
    headers: Mapping[str, str],
    visitor_key: str | None,
) -> Opened | None:
    """A request to `/l/{code}`: where to redirect (None: no such link), counted when a
    person opened it. Counting never stands between a customer and the page: if it fails,
    the open goes uncounted (and logged) and the redirect still happens."""
    if not CODE_PATTERN.fullmatch(code):
        return None
    if counts_as_open(method, headers):
        try:
            with session.begin_nested():
                return open_link(
                    session, code, visitor_key=visitor_key, user_agent=headers.get("user-agent")
                )
        except (SQLAlchemyError, SiyuError):
            log.exception("counting an open of link %s failed; redirecting uncounted", code)
    link = link_by_code(session, code)
    return None if link is None else Opened(link.url, None)


def open_link(
    session: Session, code: str, *, visitor_key: str | None, user_agent: str | None
) -> Opened | None:
    """Count a person's open of the link `code` (None: no such link).

    `visitor_key` is the browser's cookie; a missing or malformed one is replaced by a new
    key, returned in `Opened.visitor_key` for the response to set.
    """
    link = link_by_code(session, code)
    if link is None:
        return None
    if visitor_key is None or not VISITOR_KEY.fullmatch(visitor_key):
        visitor_key = secrets.token_urlsafe(16)
    repo = LinksRepository(session, link.workspace_id)
    now = utcnow()
    visitor = repo.visitor(visitor_key, now=now)
    if link.customer_id is None:
        # sent by a staff member to many: an open is theirs, whoever the visitor is
        visit = repo.add_visit(link, visitor, kind="staff", now=now, user_agent=user_agent)
        if visitor.customer_id is not None:
            _record_event(session, link, visitor, visit_id=visit.id, own=True, at=now)
        return Opened(link.url, visitor_key)
    if visitor.customer_id is None and not repo.opened_by_owner(link.id):
        repo.bind_visitor(visitor, link.customer_id, now=now)
    own = visitor.customer_id == link.customer_id
    visit = repo.add_visit(
        link, visitor, kind="own" if own else "shared", now=now, user_agent=user_agent
    )
    if not own:
        repo.record_edge(link, visitor, now=now)
    elif link.broadcast_id is not None:  # reading the message is how they got the link
        messaging_opens.mark_opened(
            session,
            link.workspace_id,
            now,
            via="click",
            broadcast_id=link.broadcast_id,
            customer_id=link.customer_id,
            channel=link.channel,
        )
    if visitor.customer_id is not None:
        _record_event(session, link, visitor, visit_id=visit.id, own=own, at=now)
    return Opened(link.url, visitor_key)


def _record_event(
    session: Session,
    link: TrackedLink,
    visitor: LinkVisitor,
    *,
    visit_id: int,
    own: bool,
    at: datetime,
) -> None:
    assert visitor.customer_id is not None
    ensure_event_type(session, link.workspace_id)
    event = EventIn(
        id=f"{LINK_OPENED}:{visit_id}",
        type=LINK_OPENED,
        occurred_at=at,
        customer=CustomerRefIn(customer_id=visitor.customer_id),
        properties={
            "url": link.url,
            "link_code": link.code,
            "broadcast_id": link.broadcast_id,
            "channel": link.channel,
            "shared_by": None if own else link.customer_id,
        },
    )
    events_service.ingest(
        session, link.workspace_id, [event], unknown_customers="reject", actor=EVENT_ACTOR
    )


# -- results -----------------------------------------------------------------------


def first_clicks(session: Session, workspace_id: int, broadcast_id: int) -> dict[int, datetime]:
    """customer_id -> the first time the customer opened their own link of the broadcast."""
    return LinksRepository(session, workspace_id).first_own_opens(broadcast_id)


def clicks_by_channel(session: Session, workspace_id: int, broadcast_id: int) -> dict[str, int]:
    """Link channel (email, sms, wecom, poster …) -> people who clicked the broadcast's
    links of that channel: customers, and browsers known as nobody."""
    return LinksRepository(session, workspace_id).clickers_by_channel(broadcast_id)
