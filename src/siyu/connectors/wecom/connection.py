"""A workspace's WeCom connection: corp id, app secrets and the callback Token/EncodingAESKey.

Secrets are write-only: they are stored encrypted and never returned or logged. The
callback Token and EncodingAESKey are generated here and shown to admins, because they
must be pasted into the WeCom admin console.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import inbox
from siyu.connectors.wecom.connection_schemas import (
    CallbackStatsOut,
    DailyRefusalsOut,
    RefusalCountOut,
)
from siyu.connectors.wecom.crypto import CallbackCrypto, new_encoding_aes_key, new_token
from siyu.exceptions import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import SortSpec, paginate
from siyu.models import WecomCallback, WecomConnection
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal

DEFAULT_API_BASE_URL = "https://qyapi.weixin.qq.com"


def find_connection(session: Session, workspace_id: int) -> WecomConnection | None:
    return session.scalar(
        select(WecomConnection).where(WecomConnection.workspace_id == workspace_id)
    )


def get_connection(session: Session, workspace_id: int) -> WecomConnection:
    connection = find_connection(session, workspace_id)
    if connection is None:
        raise NotFound("WeCom connection")
    return connection


def crypto_for(connection: WecomConnection) -> CallbackCrypto:
    return CallbackCrypto(
        connection.callback_token.get_secret_value(),
        connection.encoding_aes_key.get_secret_value(),
        connection.corp_id,
    )


def callback_url(base_url: str, workspace_slug: str) -> str:
    return f"{base_url.rstrip('/')}/wecom/callback/{workspace_slug}"


def _clean(field: str, value: str | None, *, max_length: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > max_length:
        raise ValidationFailed(field, f"at most {max_length} characters")
    return value


def _check_corp_id(session: Session, workspace_id: int, corp_id: str | None) -> str:
    corp_id = _clean("corp_id", corp_id, max_length=64)
    if corp_id is None:
        raise ValidationFailed("corp_id", "the corp id (企业ID) is required")
    if not corp_id.isascii() or not corp_id.isalnum():
        raise ValidationFailed("corp_id", "a corp id is letters and digits, e.g. ww1234abcd")
    taken = session.scalar(
        select(WecomConnection.workspace_id).where(
            WecomConnection.corp_id == corp_id, WecomConnection.workspace_id != workspace_id
        )
    )
    if taken is not None:
        raise Conflict("this corp is connected to another workspace", {"field": "corp_id"})
    return corp_id


def _check_base_url(api_base_url: str) -> str:
    parts = urlsplit(api_base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed("api_base_url", "an http(s) URL, e.g. https://qyapi.weixin.qq.com")
    return api_base_url.strip().rstrip("/")


def connect(
    session: Session,
    *,
    workspace_id: int,
    corp_id: str,
    contact_secret: str,
    directory_secret: str | None = None,
    agent_id: str | None = None,
    api_base_url: str = DEFAULT_API_BASE_URL,
) -> WecomConnection:
    """Create the workspace's connection with a fresh callback Token and EncodingAESKey."""
    if find_connection(session, workspace_id) is not None:
        raise Conflict("this workspace is already connected to WeCom")
    corp_id = _check_corp_id(session, workspace_id, corp_id)
    secret = _clean("contact_secret", contact_secret, max_length=200)
    if secret is None:
        raise ValidationFailed("contact_secret", "the customer-contact secret is required")
    directory = _clean("directory_secret", directory_secret, max_length=200)
    connection = WecomConnection(
        workspace_id=workspace_id,
        corp_id=corp_id,
        agent_id=_clean("agent_id", agent_id, max_length=32),
        contact_secret=SecretStr(secret),
        directory_secret=SecretStr(directory) if directory else None,
        callback_token=SecretStr(new_token()),
        encoding_aes_key=SecretStr(new_encoding_aes_key()),
        api_base_url=_check_base_url(api_base_url),
        status="pending",
    )
    session.add(connection)
    session.flush()
    return connection


def regenerate_callback_keys(connection: WecomConnection) -> None:
    """New Token and EncodingAESKey: the callback must be verified again in WeCom."""
    connection.callback_token = SecretStr(new_token())
    connection.encoding_aes_key = SecretStr(new_encoding_aes_key())
    connection.status = "pending"
    connection.callback_verified_at = None


# -- console operations (admin principal, audited) ----------------------------------------


@dataclass(frozen=True)
class ConnectionView:
    connection: WecomConnection
    workspace_slug: str


def _slug(session: Session, workspace_id: int) -> str:
    return workspace_service.get_workspace(session, workspace_id).slug


def read_connection(session: Session, principal: Principal) -> ConnectionView:
    connection = get_connection(session, principal.workspace_id)
    return ConnectionView(connection, _slug(session, principal.workspace_id))


def save_connection(
    session: Session,
    principal: Principal,
    *,
    corp_id: str,
    agent_id: str | None,
    contact_secret: str | None,
    directory_secret: str | None,
    api_base_url: str | None,
) -> ConnectionView:
    """Connect the workspace, or change its connection; a secret left empty is kept."""
    existing = find_connection(session, principal.workspace_id)
    if existing is None:
        connection = connect(
            session,
            workspace_id=principal.workspace_id,
            corp_id=corp_id,
            contact_secret=contact_secret or "",
            directory_secret=directory_secret,
            agent_id=agent_id,
            api_base_url=api_base_url or DEFAULT_API_BASE_URL,
        )
        workspace_service.audit(
            session,
            principal,
            "wecom.connect",
            target_type="wecom_connection",
            target_id=connection.id,
            details={"corp_id": connection.corp_id},
        )
        return ConnectionView(connection, _slug(session, principal.workspace_id))

    connection = existing
    changed: list[str] = []
    new_corp_id = _check_corp_id(session, principal.workspace_id, corp_id)
    if new_corp_id != connection.corp_id:
        connection.corp_id = new_corp_id
        # The receive id changed: WeCom must verify the callback URL again.
        connection.status = "pending"
        connection.callback_verified_at = None
        changed.append("corp_id")
    new_agent_id = _clean("agent_id", agent_id, max_length=32)
    if new_agent_id != connection.agent_id:
        connection.agent_id = new_agent_id
        changed.append("agent_id")
    if api_base_url is not None:
        base = _check_base_url(api_base_url)
        if base != connection.api_base_url:
            connection.api_base_url = base
            changed.append("api_base_url")
    secret = _clean("contact_secret", contact_secret, max_length=200)
    if secret is not None:
        connection.contact_secret = SecretStr(secret)
        changed.append("contact_secret")
    directory = _clean("directory_secret", directory_secret, max_length=200)
    if directory is not None:
        connection.directory_secret = SecretStr(directory)
        changed.append("directory_secret")
    session.flush()
    if changed:
        workspace_service.audit(
            session,
            principal,
            "wecom.update_connection",
            target_type="wecom_connection",
            target_id=connection.id,
            details={"changed": changed, "corp_id": connection.corp_id},
        )
    return ConnectionView(connection, _slug(session, principal.workspace_id))


def regenerate_keys(session: Session, principal: Principal) -> ConnectionView:
    connection = get_connection(session, principal.workspace_id)
    regenerate_callback_keys(connection)
    session.flush()
    workspace_service.audit(
        session,
        principal,
        "wecom.regenerate_callback_keys",
        target_type="wecom_connection",
        target_id=connection.id,
    )
    return ConnectionView(connection, _slug(session, principal.workspace_id))


CALLBACK_STATUSES = ("received", "processed", "ignored", "failed")


def list_callbacks(
    session: Session, workspace_id: int, *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[WecomCallback], str | None]:
    """The inbox, newest first; `status="failed"` shows what went wrong and why."""
    if status is not None and status not in CALLBACK_STATUSES:
        raise ValidationFailed("status", f"one of {', '.join(CALLBACK_STATUSES)}")
    stmt, page = paginate(
        inbox.callbacks_query(workspace_id, status),
        columns={"id": WecomCallback.id.expression},
        id_column=WecomCallback.id.expression,
        sort=SortSpec("id", descending=True),
        cursor=cursor,
        limit=limit,
    )
    return page.build(list(session.scalars(stmt)))


def callback_stats(session: Session, workspace_id: int) -> CallbackStatsOut:
    by_status = inbox.counts_by_status(session, workspace_id)
    refusals = inbox.refusals(session, workspace_id)
    by_reason: dict[str, int] = {}
    for row in refusals:
        by_reason[row.reason] = by_reason.get(row.reason, 0) + row.count
    return CallbackStatsOut(
        received=sum(by_status.values()),
        pending=by_status.get("received", 0),
        processed=by_status.get("processed", 0),
        ignored=by_status.get("ignored", 0),
        failed=by_status.get("failed", 0),
        refused=sum(by_reason.values()),
        refused_by_reason=[
            RefusalCountOut(reason=reason, count=count)
            for reason, count in sorted(by_reason.items())
        ],
        refused_by_day=[
            DailyRefusalsOut(day=row.day, reason=row.reason, count=row.count) for row in refusals
        ],
        last_received_at=inbox.last_received_at(session, workspace_id),
    )
