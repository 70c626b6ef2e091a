"""Tracked links a staff member sends to many customers at once (WeCom mass messages to
customers and groups, the QR code of a staff member's poster).

WeCom sends one text, one set of attachments and one poster per staff member, so a link
in them cannot know its customer: it is minted once per (broadcast, staff member, url,
channel) with no customer. An open of it is the staff member's and the broadcast's; when
the browser is already known as a customer (see `links.open_link`), it is that customer's
too. Such a link is the same for everyone who got it, so it cannot tell who forwarded it:
opens of these links make no share edges.
"""

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.config import get_settings
from siyu.content import links
from siyu.content.links_repository import LinksRepository
from siyu.exceptions import Conflict, ValidationFailed
from siyu.kit.time import utcnow

# what `links.short_url` returns for a code of `links.CODE_BYTES` random bytes
CODE_LENGTH = 11
_TRACKABLE = re.compile(r"https?://[^\s/]+\S*", re.IGNORECASE)


@dataclass(frozen=True)
class StaffClick:
    """The first open of a broadcast's staff links by one browser: who sent the link, and
    the customer the browser is known as now (None: anonymous)."""

    staff_id: int | None
    visitor_id: int
    customer_id: int | None
    first_at: datetime


def trackable(url: str) -> bool:
    """Whether `url` can become a short link (an http(s) URL no longer than links take)."""
    return bool(_TRACKABLE.fullmatch(url)) and len(url) <= links.MAX_URL_LENGTH


def short_url_length() -> int:
    """Characters of every short URL of this installation."""
    return len(links.short_url(get_settings(), "x" * CODE_LENGTH))


def _dedupe_key(broadcast_id: int, staff_id: int | None, channel: str, url: str) -> str:
    # "staff" keeps these keys apart from the per-customer ones (links._dedupe_key)
    scope = "" if staff_id is None else str(staff_id)
    return hashlib.sha256(f"staff\n{broadcast_id}\n{scope}\n{channel}\n{url}".encode()).hexdigest()


def track_for_staff(
    session: Session,
    workspace_id: int,
    *,
    broadcast_id: int,
    staff_id: int | None,
    channel: str,
    urls: Sequence[str],
) -> dict[str, str]:
    """Mint the staff member's short link of each trackable url; returns url -> short URL
    (urls that are not http(s) are left out).

    Idempotent: the same (broadcast, staff member, url, channel) always gets the same
    link, so a resumed send composes the very message it composed before. A constant
    number of statements whatever the number of urls."""
    if not channel or len(channel) > links.MAX_CHANNEL_LENGTH:
        raise ValidationFailed("channel", f"must be 1 to {links.MAX_CHANNEL_LENGTH} characters")
    keys = {
        url: _dedupe_key(broadcast_id, staff_id, channel, url)
        for url in dict.fromkeys(urls)
        if trackable(url)
    }
    if not keys:
        return {}
    links.ensure_event_type(session, workspace_id)
    repo = LinksRepository(session, workspace_id)
    now = utcnow()
    found = repo.codes_by_dedupe_key(list(keys.values()))
    for _ in range(links.MINT_ATTEMPTS):
        missing = [url for url, key in keys.items() if key not in found]
        if not missing:
            break
        repo.insert_links(
            [
                {
                    "workspace_id": workspace_id,
                    "code": secrets.token_urlsafe(links.CODE_BYTES),
                    "dedupe_key": keys[url],
                    "url": url,
                    "customer_id": None,
                    "staff_id": staff_id,
                    "broadcast_id": broadcast_id,
                    "channel": channel,
                    "created_at": now,
                }
                for url in missing
            ]
        )
        found.update(repo.codes_by_dedupe_key([keys[url] for url in missing]))
    if any(key not in found for key in keys.values()):
        raise Conflict("could not mint unique link codes; try again")
    settings = get_settings()
    return {url: links.short_url(settings, found[key][1]) for url, key in keys.items()}


def clicks(session: Session, workspace_id: int, broadcast_id: int) -> list[StaffClick]:
    """Each browser's first open of each staff member's links of the broadcast, with the
    customer the browser is known as now (a browser bound later makes its earlier opens
    that customer's)."""
    return [
        StaffClick(staff_id, visitor_id, customer_id, first_at)
        for staff_id, visitor_id, customer_id, first_at in LinksRepository(
            session, workspace_id
        ).first_staff_link_opens(broadcast_id)
    ]
