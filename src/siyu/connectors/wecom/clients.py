"""A workspace's WeCom client, built from its WecomConnection with the shared rate limiter.

On SQLite every write transaction holds the database's one write lock from its first
statement (BEGIN IMMEDIATE) to its commit, so a job must not wait on WeCom inside one:
every other writer, the callback endpoint included, would wait for WeCom's latency too.
A job calls `release_before_calls(ctx.session, ctx.checkpoint)`; from then on each WeCom
call made through a client of this module first commits the job's work so far (read →
commit → call WeCom → write, the write committing at the next call or when the job ends).
The checkpoint is lease-checked, so a job that lost its lease commits nothing more; the
handlers re-read WeCom's state and converge, so committing between calls keeps them
idempotent.
"""

from collections.abc import Callable
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.exceptions import NotFound, ValidationFailed
from siyu.kit.ratelimit import DatabaseLimiter, Limiter, RateLimit
from siyu.models import WecomConnection

SecretKind = Literal["contact", "directory"]
RELEASE_HOOK = "siyu.wecom.release"


def release_before_calls(session: Session, checkpoint: Callable[[], None]) -> None:
    """Commit `session` (with `checkpoint`) before each WeCom call made for it."""
    session.info[RELEASE_HOOK] = checkpoint


def release(session: Session) -> None:
    """End the session's transaction now if its owner allowed it (see the module doc)."""
    hook = session.info.get(RELEASE_HOOK)
    if hook is not None and session.in_transaction():
        hook()


class ReleasingLimiter:
    """The shared limiter, after the caller's transaction was released."""

    def __init__(self, inner: Limiter, session: Session) -> None:
        self.inner = inner
        self.session = session

    async def acquire(self, key: str, limit: RateLimit) -> None:
        release(self.session)
        await self.inner.acquire(key, limit)


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
    limiter = ReleasingLimiter(
        DatabaseLimiter(engine, connection.workspace_id, session=session), session
    )
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
