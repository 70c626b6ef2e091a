from datetime import datetime, timedelta

from fastapi import APIRouter, Query, Request, Response

from siyu.config import Settings
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.workspace import service, sessions
from siyu.workspace.dependencies import (
    SESSION_COOKIE,
    Admin,
    CurrentPrincipal,
    Operator,
    Throttle,
    client_ip,
)
from siyu.workspace.principal import Principal
from siyu.workspace.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    AuditEntryOut,
    LoginIn,
    MemberInvite,
    MemberOut,
    MemberUpdate,
    MeOut,
    PasswordChangeIn,
    SwitchWorkspaceIn,
    WorkspaceOut,
    WorkspaceUpdate,
)

router = APIRouter(tags=["workspace"])

Cursor = Query(default=None, description="next_cursor of the previous page")
Limit = Query(default=50, description="page size, 1–200")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = _settings(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        path="/",
    )


def _me(session: DbSession, principal: Principal, csrf_token: str | None) -> MeOut:
    workspace = service.get_workspace(session, principal.workspace_id)
    return MeOut(
        workspace_id=workspace.id,
        workspace_slug=workspace.slug,
        workspace_name=workspace.name,
        role=principal.role,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        staff_id=principal.staff_id,
        csrf_token=csrf_token,
    )


def _member_out(member: service.Member) -> MemberOut:
    return MemberOut(
        id=member.user.id,
        email=member.user.email,
        name=member.user.name,
        role=member.membership.role,
        staff_id=member.membership.staff_id,
        is_active=member.membership.is_active and member.user.is_active,
        joined_at=member.membership.created_at,
    )


# --- console sign-in --------------------------------------------------------------------


@router.post("/auth/login", response_model=MeOut)
def login(
    body: LoginIn, request: Request, response: Response, session: DbSession, throttle: Throttle
) -> MeOut:
    started = sessions.login(
        session,
        email=body.email,
        password=body.password.get_secret_value(),
        workspace_slug=body.workspace,
        ttl=timedelta(hours=_settings(request).session_ttl_hours),
        throttle=throttle,
        ip=client_ip(request),
    )
    _set_session_cookie(request, response, started.token)
    principal, _ = sessions.resolve_console_session(session, started.token)
    return _me(session, principal, started.csrf_token)


@router.post("/auth/logout", status_code=204)
def logout(
    request: Request, response: Response, session: DbSession, _principal: CurrentPrincipal
) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token and not request.headers.get("Authorization"):
        sessions.logout(session, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=MeOut)
def me(request: Request, session: DbSession, principal: CurrentPrincipal) -> MeOut:
    csrf = None
    token = request.cookies.get(SESSION_COOKIE)
    if token and principal.console_session_id is not None:
        _, console_session = sessions.resolve_console_session(session, token)
        csrf = console_session.csrf_token
    return _me(session, principal, csrf)


@router.post("/auth/switch-workspace", response_model=MeOut)
def switch_workspace(
    body: SwitchWorkspaceIn,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> MeOut:
    started = sessions.switch_workspace(
        session,
        principal,
        slug=body.slug,
        ttl=timedelta(hours=_settings(request).session_ttl_hours),
    )
    _set_session_cookie(request, response, started.token)
    switched, _ = sessions.resolve_console_session(session, started.token)
    return _me(session, switched, started.csrf_token)


@router.post("/auth/password", status_code=204)
def change_password(
    body: PasswordChangeIn, session: DbSession, principal: CurrentPrincipal
) -> None:
    sessions.change_password(
        session,
        principal,
        current_password=body.current_password.get_secret_value(),
        new_password=body.new_password.get_secret_value(),
    )


# --- workspace --------------------------------------------------------------------------


@router.get("/workspace", response_model=WorkspaceOut)
def get_workspace(session: DbSession, principal: CurrentPrincipal) -> WorkspaceOut:
    return WorkspaceOut.model_validate(service.get_workspace(session, principal.workspace_id))


@router.patch("/workspace", response_model=WorkspaceOut)
def update_workspace(body: WorkspaceUpdate, session: DbSession, principal: Admin) -> WorkspaceOut:
    return WorkspaceOut.model_validate(service.update_workspace(session, principal, body))


# --- users ------------------------------------------------------------------------------


@router.get("/users", response_model=PageOut[MemberOut])
def list_users(
    session: DbSession,
    principal: Operator,
    sort: str | None = Query(default=None, description="joined_at (default) or email; -desc"),
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> PageOut[MemberOut]:
    members, next_cursor = service.list_members(
        session, principal, sort=sort, cursor=cursor, limit=limit
    )
    return PageOut(items=[_member_out(m) for m in members], next_cursor=next_cursor)


@router.post("/users", response_model=MemberOut, status_code=201)
def invite_user(body: MemberInvite, session: DbSession, principal: Admin) -> MemberOut:
    member = service.invite_member(
        session,
        principal,
        email=body.email,
        name=body.name,
        password=body.password.get_secret_value(),
        role=body.role,
        staff_id=body.staff_id,
    )
    return _member_out(member)


@router.get("/users/{user_id}", response_model=MemberOut)
def get_user(user_id: int, session: DbSession, principal: Operator) -> MemberOut:
    return _member_out(service.get_member(session, principal, user_id))


@router.patch("/users/{user_id}", response_model=MemberOut)
def update_user(
    user_id: int, body: MemberUpdate, session: DbSession, principal: Admin
) -> MemberOut:
    return _member_out(service.update_member(session, principal, user_id, body))


@router.delete("/users/{user_id}", status_code=204)
def remove_user(user_id: int, session: DbSession, principal: Admin) -> None:
    service.remove_member(session, principal, user_id)


# --- API keys ---------------------------------------------------------------------------


@router.get("/api-keys", response_model=PageOut[ApiKeyOut])
def list_api_keys(
    session: DbSession, principal: Admin, cursor: str | None = Cursor, limit: int = Limit
) -> PageOut[ApiKeyOut]:
    keys, next_cursor = service.list_api_keys(session, principal, cursor=cursor, limit=limit)
    return PageOut(items=[ApiKeyOut.model_validate(k) for k in keys], next_cursor=next_cursor)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(body: ApiKeyIn, session: DbSession, principal: Admin) -> ApiKeyCreated:
    created = service.issue_api_key(session, principal, name=body.name, role=body.role)
    out = ApiKeyOut.model_validate(created.api_key)
    return ApiKeyCreated(**out.model_dump(), key=created.plaintext)


@router.delete("/api-keys/{api_key_id}", status_code=204)
def revoke_api_key(api_key_id: int, session: DbSession, principal: Admin) -> None:
    service.revoke_api_key(session, principal, api_key_id)


# --- audit log --------------------------------------------------------------------------


@router.get("/audit-log", response_model=PageOut[AuditEntryOut])
def audit_log(
    session: DbSession,
    principal: Admin,
    action: str | None = Query(default=None, description="e.g. user.role_change"),
    actor: str | None = Query(default=None, description="user:<id> or api_key:<id>"),
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = Query(default=None, description="inclusive, with offset"),
    until: datetime | None = Query(default=None, description="exclusive, with offset"),
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> PageOut[AuditEntryOut]:
    return service.list_audit_entries(
        session,
        principal,
        action=action,
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
