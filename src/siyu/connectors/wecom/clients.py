"""A workspace's WeCom client, built from its WecomConnection with the shared rate limiter."""

from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.exceptions import NotFound, ValidationFailed
from siyu.kit.ratelimit import DatabaseLimiter
from siyu.models import WecomConnection

SecretKind = Literal["contact", "directory"]


def find_connection(session: Session, workspace_id: int) -> WecomConnection | None:
    return session.scalars(
        select(WecomConnection).where(WecomConnection.workspace_id == workspace_id)
    ).one_or_none()


def load_connection(session: Session, workspace_id: int) -> WecomConnection:
    connection = find_connection(session, workspace_id)
    if connection is None:
        raise NotFound("WeCom connection")
    return connection


def client_from(
    session: Session,
    connection: WecomConnection,
    *,
    secret: SecretKind = "contact",  # noqa: S107 - which secret, not a secret
) -> WecomClient:
    if secret == "contact":  # noqa: S105
        value = connection.contact_secret.get_secret_value()
    elif connection.directory_secret is None:
        raise ValidationFailed("directory_secret", "未配置通讯录同步 Secret")
    else:
        value = connection.directory_secret.get_secret_value()
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    limiter = DatabaseLimiter(engine, connection.workspace_id, session=session)
    return WecomClient(connection.corp_id, value, connection.api_base_url, limiter=limiter)


def client_for(
    session: Session,
    workspace_id: int,
    *,
    secret: SecretKind = "contact",  # noqa: S107 - which secret, not a secret
) -> WecomClient:
    """The client of this workspace's corp with its 客户联系 (default) or 通讯录同步 secret.

    Raises NotFound when the workspace has no WeCom connection and ValidationFailed when
    the directory secret is asked for but not configured.
    """
    return client_from(session, load_connection(session, workspace_id), secret=secret)
