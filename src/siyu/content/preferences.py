"""Opt-outs (退订): the service every sender asks, the signed unsubscribe links, SMS "T".

An opt-out is a row of `opt_out` per (customer, channel); channel "all" silences every
channel. Opting back in to one channel while opted out of all keeps the others silent
(the "all" row is replaced by one row per other channel).

Unsubscribe links carry a token signed with the app's secret key: workspace, customer
and channel, no database row (`3.42.email.<MAC>`, a keyed BLAKE2b MAC from
`kit.tokens`, made for every recipient of a broadcast in microseconds). Tokens never
expire — an unsubscribe link in a year-old email must still work — and keep working
across a key rotation while the old key is in SIYU_PREVIOUS_SECRET_KEYS. Links of
earlier releases (itsdangerous, HMAC SHA-1 over a salted key derivation) are still read.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.connectors.aliyun_sms.receipts import OPT_OUT_REPLIES
from siyu.customers import identities, oneid
from siyu.customers import service as customers_service
from siyu.customers.identities import IdentityKind
from siyu.exceptions import ValidationFailed
from siyu.kit import tokens
from siyu.kit.time import utcnow
from siyu.models import OptOut

CHANNELS = ("wecom", "sms", "email")
ALL = "all"
TOKEN_SALT = "siyu.preferences.v1"  # noqa: S105 - a salt, not a secret
TOKEN_PURPOSE = "preferences.v2"  # noqa: S105 - names a derived key, not a secret
_ID = re.compile(r"[1-9][0-9]{0,18}")
# Replies that mean "unsubscribe" under the SMS convention "回T退订" (after trimming,
# full-width letters folded to ASCII, case ignored).
# The replies carriers and Aliyun templates ask for ("回T退订", "拒收请回复R").
SMS_STOP_WORDS = OPT_OUT_REPLIES

SOURCE_PAGE = "preference_page"
SOURCE_ONE_CLICK = "one_click"
SOURCE_SMS_REPLY = "sms_reply"


def _check_channel(channel: str, *, allow_all: bool = True) -> str:
    allowed = (*CHANNELS, ALL) if allow_all else CHANNELS
    if channel not in allowed:
        raise ValidationFailed("channel", f"must be one of {', '.join(allowed)}")
    return channel


# -- the service -------------------------------------------------------------------


def opt_out(
    session: Session, workspace_id: int, customer_id: int, channel: str, source: str
) -> bool:
    """Opt the customer out of `channel` ("all" for every channel); False if already out."""
    _check_channel(channel)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    result = session.execute(
        insert(OptOut)
        .values(
            workspace_id=workspace_id,
            customer_id=customer_id,
            channel=channel,
            source=source[:32],
            opted_out_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(OptOut.id)
    )
    return result.first() is not None


def opt_in(session: Session, workspace_id: int, customer_id: int, channel: str) -> bool:
    """Opt the customer back in to `channel` ("all": to every channel); False if nothing
    changed. Opting in to one channel while opted out of all leaves the others opted out."""
    _check_channel(channel)
    mine = (OptOut.workspace_id == workspace_id, OptOut.customer_id == customer_id)
    if channel == ALL:
        removed = session.execute(delete(OptOut).where(*mine).returning(OptOut.id)).all()
        return bool(removed)
    everything = session.scalar(select(OptOut).where(*mine, OptOut.channel == ALL))
    removed = session.execute(
        delete(OptOut).where(*mine, OptOut.channel.in_((channel, ALL))).returning(OptOut.id)
    ).all()
    if everything is not None:
        for other in CHANNELS:
            if other != channel:
                opt_out(session, workspace_id, customer_id, other, everything.source)
    return bool(removed)


def is_opted_out(session: Session, workspace_id: int, customer_id: int, channel: str) -> bool:
    """Whether the customer opted out of `channel`, or of all channels."""
    _check_channel(channel)
    return bool(
        session.scalar(
            select(
                exists().where(
                    OptOut.workspace_id == workspace_id,
                    OptOut.customer_id == customer_id,
                    OptOut.channel.in_((channel, ALL)),
                )
            )
        )
    )


def opted_out_customers(session: Session, workspace_id: int, channel: str) -> Select[Any]:
    """SELECT of the customer ids opted out of `channel` (or of all), for use as a subquery:
    `Customer.id.not_in(opted_out_customers(session, ws, "sms"))`."""
    del session  # the statement is built, not run
    _check_channel(channel)
    return select(OptOut.customer_id).where(
        OptOut.workspace_id == workspace_id, OptOut.channel.in_((channel, ALL))
    )


def opt_out_by_sms_reply(session: Session, workspace_id: int, mobile: str, content: str) -> bool:
    """Handle an SMS reply: a stop word ("T", "TD", "R", "退订", "拒收" …) opts the customer
    owning `mobile` out of SMS. True when the reply was such a word from a known customer's
    number."""
    word = unicodedata.normalize("NFKC", content).strip().upper()
    if word not in SMS_STOP_WORDS:
        return False
    try:
        ref = identities.normalize(IdentityKind.MOBILE, mobile, field="mobile")
    except ValidationFailed:
        return False
    customer_id = oneid.find_customer_id(session, workspace_id, ref)
    if customer_id is None:
        return False
    opt_out(session, workspace_id, customer_id, "sms", SOURCE_SMS_REPLY)
    return True


# -- signed links ------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceToken:
    workspace_id: int
    customer_id: int
    channel: str


def _serializer(settings: Settings) -> URLSafeSerializer:
    """Reads the tokens of earlier releases."""
    # itsdangerous signs with the last key and accepts any of them: oldest first.
    keys = [k.get_secret_value() for k in reversed(settings.previous_secret_keys)]
    keys.append(settings.secret_key.get_secret_value())
    return URLSafeSerializer(keys, salt=TOKEN_SALT)


def make_token(settings: Settings, workspace_id: int, customer_id: int, channel: str) -> str:
    _check_channel(channel, allow_all=False)
    key = tokens.keys(settings, TOKEN_PURPOSE)[0]
    return tokens.sign(key, f"{workspace_id}.{customer_id}.{channel}")


def unsubscribe_url(settings: Settings, workspace_id: int, customer_id: int, channel: str) -> str:
    """The customer's preference page for `channel`; also the RFC 8058 one-click target
    (List-Unsubscribe: <url>, List-Unsubscribe-Post: List-Unsubscribe=One-Click)."""
    token = make_token(settings, workspace_id, customer_id, channel)
    return f"{settings.base_url.rstrip('/')}/u/{token}"


def read_token(settings: Settings, token: str) -> PreferenceToken | None:
    """The token's contents, or None when it is malformed or its signature is wrong."""
    if token.count(".") == 3:
        fields = tokens.verify(tokens.keys(settings, TOKEN_PURPOSE), token)
        if fields is None:
            return None
        workspace, customer, channel = fields.split(".")
        if _ID.fullmatch(workspace) and _ID.fullmatch(customer) and channel in CHANNELS:
            return PreferenceToken(int(workspace), int(customer), channel)
        return None
    try:
        payload = _serializer(settings).loads(token)
    except BadSignature:
        return None
    match payload:
        case [int(workspace_id), int(customer_id), str(channel)] if channel in CHANNELS:
            return PreferenceToken(workspace_id, customer_id, channel)
        case _:
            return None


# -- the preference page -----------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    workspace_id: int
    customer_id: int
    channel: str
    channel_out: bool
    all_out: bool


def _live(session: Session, token: PreferenceToken) -> int | None:
    """The customer the token stands for now (its survivor after a merge), if any."""
    live = customers_service.live_customer_ids(session, token.workspace_id, [token.customer_id])
    return live.get(token.customer_id)


def preferences_of(session: Session, token: PreferenceToken) -> Preferences | None:
    customer_id = _live(session, token)
    if customer_id is None:
        return None
    channels = set(
        session.scalars(
            select(OptOut.channel).where(
                OptOut.workspace_id == token.workspace_id, OptOut.customer_id == customer_id
            )
        )
    )
    return Preferences(
        token.workspace_id,
        customer_id,
        token.channel,
        channel_out=token.channel in channels or ALL in channels,
        all_out=ALL in channels,
    )


ACTIONS = ("opt_out", "opt_out_all", "opt_in", "opt_in_all")


def apply_action(
    session: Session, token: PreferenceToken, action: str, *, source: str = SOURCE_PAGE
) -> Preferences | None:
    """Apply a choice made on the page (or a one-click unsubscribe); None: no such customer."""
    if action not in ACTIONS:
        raise ValidationFailed("action", f"must be one of {', '.join(ACTIONS)}")
    customer_id = _live(session, token)
    if customer_id is None:
        return None
    channel = ALL if action.endswith("_all") else token.channel
    if action.startswith("opt_out"):
        opt_out(session, token.workspace_id, customer_id, channel, source)
    else:
        opt_in(session, token.workspace_id, customer_id, channel)
    return preferences_of(session, token)
