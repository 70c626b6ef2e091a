"""Console API of the WeCom connection: settings, callback keys and callback statistics."""

from fastapi import APIRouter, Query, Request

from siyu.connectors.wecom import connection as service
from siyu.connectors.wecom.connection_schemas import (
    CallbackOut,
    CallbackSettingsOut,
    CallbackStatsOut,
    ConnectionIn,
    ConnectionOut,
)
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.workspace.dependencies import Admin, Operator

router = APIRouter(prefix="/wecom", tags=["wecom"])


def _out(request: Request, view: service.ConnectionView) -> ConnectionOut:
    connection = view.connection
    return ConnectionOut(
        corp_id=connection.corp_id,
        agent_id=connection.agent_id,
        api_base_url=connection.api_base_url,
        contact_secret_set=bool(connection.contact_secret.get_secret_value()),
        directory_secret_set=connection.directory_secret is not None
        and bool(connection.directory_secret.get_secret_value()),
        status=connection.status,
        callback_verified_at=connection.callback_verified_at,
        last_check_at=connection.last_check_at,
        callback=CallbackSettingsOut(
            url=service.callback_url(request.app.state.settings.base_url, view.workspace_slug),
            token=connection.callback_token.get_secret_value(),
            encoding_aes_key=connection.encoding_aes_key.get_secret_value(),
        ),
    )


@router.get("/connection", response_model=ConnectionOut)
def read_connection(request: Request, session: DbSession, principal: Admin) -> ConnectionOut:
    """The connection; secrets show only as set or not, callback settings in full."""
    return _out(request, service.read_connection(session, principal))


@router.put("/connection", response_model=ConnectionOut)
def save_connection(
    body: ConnectionIn, request: Request, session: DbSession, principal: Admin
) -> ConnectionOut:
    """Connect the workspace (generating callback keys) or change its settings."""
    view = service.save_connection(
        session,
        principal,
        corp_id=body.corp_id,
        agent_id=body.agent_id,
        contact_secret=body.contact_secret,
        directory_secret=body.directory_secret,
        api_base_url=body.api_base_url,
    )
    return _out(request, view)


@router.post("/connection/callback-keys", response_model=ConnectionOut)
def regenerate_callback_keys(
    request: Request, session: DbSession, principal: Admin
) -> ConnectionOut:
    """New Token and EncodingAESKey; paste them into WeCom and verify the URL again."""
    return _out(request, service.regenerate_keys(session, principal))


@router.get("/callbacks", response_model=PageOut[CallbackOut])
def list_callbacks(
    session: DbSession,
    principal: Admin,
    status: str | None = Query(default=None, description="received | processed | ignored | failed"),
    cursor: str | None = Query(default=None, description="next_cursor of the previous page"),
    limit: int = Query(default=50, description="page size, 1–200"),
) -> PageOut[CallbackOut]:
    """Stored callbacks, newest first, with their decrypted XML and any processing error."""
    callbacks, next_cursor = service.list_callbacks(
        session, principal.workspace_id, status=status, cursor=cursor, limit=limit
    )
    return PageOut(
        items=[CallbackOut.model_validate(c) for c in callbacks], next_cursor=next_cursor
    )


@router.get("/callbacks/stats", response_model=CallbackStatsOut)
def callback_stats(session: DbSession, principal: Operator) -> CallbackStatsOut:
    """Callbacks received by processing status, and refused callbacks by reason and day."""
    return service.callback_stats(session, principal.workspace_id)
