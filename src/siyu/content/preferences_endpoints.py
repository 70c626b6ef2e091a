"""The public unsubscribe / preference page, `/u/{token}` (at the root, no sign-in).

GET shows where the customer stands on the token's channel; POST applies a choice from
that page, or — with the form body `List-Unsubscribe=One-Click` (RFC 8058), as mail
clients send it — opts out of the channel without a page.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import PlainTextResponse

from siyu.config import Settings
from siyu.content import preferences, public_pages
from siyu.content.public_limits import retry_after
from siyu.db.dependencies import DbSession

router = APIRouter(include_in_schema=False)

MAX_TOKEN_LENGTH = 200


def _token(request: Request, token: str) -> preferences.PreferenceToken | None:
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    settings: Settings = request.app.state.settings
    return preferences.read_token(settings, token)


@router.get("/u/{token}")
def preference_page(token: str, request: Request, session: DbSession) -> Response:
    lang = public_pages.language(request.headers.get("accept-language"))
    wait = retry_after(request, "preferences")
    if wait is not None:
        return public_pages.too_many_requests(lang, wait)
    signed = _token(request, token)
    if signed is None:
        return public_pages.invalid_token(lang)
    current = preferences.preferences_of(session, signed)
    if current is None:
        return public_pages.not_found(lang)
    view = public_pages.PreferenceView(current.channel, current.channel_out, current.all_out)
    return public_pages.preferences(view, f"/u/{token}", lang)


@router.post("/u/{token}")
def change_preferences(
    token: str,
    request: Request,
    session: DbSession,
    action: Annotated[str | None, Form(max_length=32)] = None,
    list_unsubscribe: Annotated[str | None, Form(alias="List-Unsubscribe", max_length=32)] = None,
) -> Response:
    lang = public_pages.language(request.headers.get("accept-language"))
    wait = retry_after(request, "preferences")
    if wait is not None:
        return public_pages.too_many_requests(lang, wait)
    signed = _token(request, token)
    if signed is None:
        return public_pages.invalid_token(lang)
    one_click = list_unsubscribe == "One-Click"
    chosen = "opt_out" if one_click else (action or "")
    if chosen not in preferences.ACTIONS:
        return public_pages.invalid_token(lang)
    source = preferences.SOURCE_ONE_CLICK if one_click else preferences.SOURCE_PAGE
    current = preferences.apply_action(session, signed, chosen, source=source)
    if current is None:
        return public_pages.not_found(lang)
    if one_click:
        return PlainTextResponse("unsubscribed", headers={"Cache-Control": "no-store"})
    view = public_pages.PreferenceView(
        current.channel, current.channel_out, current.all_out, saved=True
    )
    return public_pages.preferences(view, f"/u/{token}", lang)
