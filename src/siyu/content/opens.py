"""Email opens: a 1×1 image per delivery, `/o/{token}.gif`, in the message's HTML.

The token seals the workspace and delivery ids (`kit.tokens.seal`): unguessable, it
names no delivery in clear, and it is made for every recipient in microseconds with no
database row. Fetching the image always returns it; a person's fetch (the bot and
prefetch rules of tracked links, `links.counts_as_open`) of a genuine token marks the
delivery opened, once, through the messaging service. Known limits of any pixel: mail
clients that block images never count, and a privacy proxy that fetches every image on
arrival (Apple Mail Privacy Protection) counts an open that may not have happened.
"""

import base64
import logging
import struct
from collections.abc import Mapping

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.content.links import counts_as_open
from siyu.exceptions import SiyuError
from siyu.kit import tokens
from siyu.kit.time import utcnow
from siyu.messaging import opens as messaging_opens

log = logging.getLogger(__name__)

TOKEN_PURPOSE = "opens.v1"  # noqa: S105 - names a derived key, not a secret
MAX_TOKEN_LENGTH = 64
_IDS = struct.Struct(">QQ")
# the smallest transparent GIF: 1×1, one colour, fully transparent
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class PixelUrls:
    """Pixel URLs of one workspace's deliveries, with the key looked up once."""

    def __init__(self, settings: Settings) -> None:
        self.key = tokens.keys(settings, TOKEN_PURPOSE)[0]
        self.prefix = f"{settings.base_url.rstrip('/')}/o/"

    def url(self, workspace_id: int, delivery_id: int) -> str:
        return f"{self.prefix}{tokens.seal(self.key, _IDS.pack(workspace_id, delivery_id))}.gif"


def read_token(settings: Settings, token: str) -> tuple[int, int] | None:
    """(workspace id, delivery id) of a genuine token, else None."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    data = tokens.unseal(tokens.keys(settings, TOKEN_PURPOSE), token)
    if data is None or len(data) != _IDS.size:
        return None
    workspace_id, delivery_id = _IDS.unpack(data)
    return workspace_id, delivery_id


def fetched(
    session: Session, settings: Settings, token: str, *, method: str, headers: Mapping[str, str]
) -> bool:
    """A request for the pixel: True when it marked a delivery opened (its first open).
    Counting never stands between the mail client and the image: a failure is logged."""
    if not counts_as_open(method, headers):
        return False
    ids = read_token(settings, token)
    if ids is None:
        return False
    workspace_id, delivery_id = ids
    try:
        with session.begin_nested():
            return messaging_opens.mark_opened(
                session, workspace_id, utcnow(), via="pixel", delivery_id=delivery_id
            )
    except (SQLAlchemyError, SiyuError):
        log.exception("counting an open of delivery %s failed", delivery_id)
        return False
