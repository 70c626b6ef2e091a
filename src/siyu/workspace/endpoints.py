from datetime import timedelta

from fastapi import APIRouter, Request, Response

from siyu.db.dependencies import DbSession
from siyu.workspace import service
from siyu.workspace.dependencies import SESSION_COOKIE, CurrentPrincipal
from siyu.workspace.schemas import LoginIn, MeOut

router = APIRouter(tags=["workspace"])


@router.post("/auth/login", response_model=MeOut)
def login(body: LoginIn, request: Request, response: Response, session: DbSession) -> MeOut:
    settings = request.app.state.settings
    started = service.login(
        session,
        email=body.email,
        password=body.password,
        workspace_slug=body.workspace,
        ttl=timedelta(hours=settings.session_ttl_hours),
        ip=request.client.host if request.client else None,
    )
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=settings.session_ttl_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        path="/",
    )
    principal, _ = service.resolve_console_session(session, started.token)
    workspace = service.get_workspace(session, principal.workspace_id)
    return MeOut(
        workspace_id=workspace.id,
        workspace_slug=workspace.slug,
        workspace_name=workspace.name,
        role=principal.role,
        user_id=principal.user_id,
        api_key_id=None,
        staff_id=principal.staff_id,
        csrf_token=started.csrf_token,
    )


@router.post("/auth/logout", status_code=204)
def logout(
    request: Request, response: Response, session: DbSession, _principal: CurrentPrincipal
) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.logout(session, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=MeOut)
def me(request: Request, session: DbSession, principal: CurrentPrincipal) -> MeOut:
    workspace = service.get_workspace(session, principal.workspace_id)
    csrf = None
    token = request.cookies.get(SESSION_COOKIE)
    if token and principal.user_id is not None and not request.headers.get("Authorization"):
        _, console_session = service.resolve_console_session(session, token)
        csrf = console_session.csrf_token
    return MeOut(
        workspace_id=workspace.id,
        workspace_slug=workspace.slug,
        workspace_name=workspace.name,
        role=principal.role,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        staff_id=principal.staff_id,
        csrf_token=csrf,
    )
