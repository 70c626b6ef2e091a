"""Short links (public, at the root like WeCom's callbacks) and the share-chain API."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from siyu.config import Settings
from siyu.content import links, opens, public_pages, share
from siyu.content.links_schemas import ShareChainOut
from siyu.content.public_limits import retry_after
from siyu.db.dependencies import DbSession
from siyu.db.session import session_factory
from siyu.workspace.dependencies import Viewer

VISITOR_COOKIE = "siyu_visitor"
VISITOR_COOKIE_MAX_AGE = 365 * 24 * 3600

router = APIRouter(tags=["share-chains"])
public_router = APIRouter(include_in_schema=False)


def _write_session(request: Request) -> Iterator[Session]:
    """A write unit of work for a GET: opening a short link records the open."""
    maker: sessionmaker[Session] | None = getattr(request.app.state, "public_sessions", None)
    if maker is None:
        maker = session_factory(request.app.state.engine, write=True)
        request.app.state.public_sessions = maker
    session = maker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


WriteSession = Annotated[Session, Depends(_write_session, scope="function")]


@public_router.api_route("/l/{code}", methods=["GET", "HEAD"])
def open_short_link(code: str, request: Request, session: WriteSession) -> Response:
    """Redirect (302) to the link's target; a person's open is counted, a bot's is not."""
    lang = public_pages.language(request.headers.get("accept-language"))
    wait = retry_after(request, "links")
    if wait is not None:
        return public_pages.too_many_requests(lang, wait)
    opened = links.visit(
        session,
        code,
        method=request.method,
        headers=request.headers,
        visitor_key=request.cookies.get(VISITOR_COOKIE),
    )
    if opened is None:
        return public_pages.not_found(lang)
    response = RedirectResponse(opened.url, status_code=302)
    # Every open must reach us: no browser or proxy may answer it from a cache.
    response.headers["Cache-Control"] = "no-store"
    if opened.visitor_key is not None:
        settings: Settings = request.app.state.settings
        response.set_cookie(
            VISITOR_COOKIE,
            opened.visitor_key,
            max_age=VISITOR_COOKIE_MAX_AGE,
            path="/l/",
            httponly=True,
            samesite="lax",
            secure=settings.session_cookie_secure or settings.base_url.startswith("https://"),
        )
    return response


@public_router.api_route("/o/{token}.gif", methods=["GET", "HEAD"])
def email_open_pixel(token: str, request: Request, session: WriteSession) -> Response:
    """The 1×1 image of an email: always served; a person's fetch of a genuine token
    marks its delivery opened (once). Past the per-IP limit it is served uncounted."""
    if retry_after(request, "opens") is None:
        settings: Settings = request.app.state.settings
        opens.fetched(session, settings, token, method=request.method, headers=request.headers)
    # every fetch must reach us: no browser, mail client or proxy may keep a copy
    return Response(
        opens.PIXEL_GIF, media_type="image/gif", headers={"Cache-Control": "no-store, private"}
    )


@router.get("/share-chains", response_model=ShareChainOut)
def get_share_chain(
    session: DbSession,
    principal: Viewer,
    broadcast_id: int | None = None,
    link_code: Annotated[str | None, Query(max_length=16)] = None,
) -> ShareChainOut:
    """Who forwarded a broadcast's links to whom (or the part below one link's customer),
    and the key spreaders: direct shares, downstream reach and depth."""
    return share.share_chain_out(session, principal, broadcast_id=broadcast_id, link_code=link_code)
