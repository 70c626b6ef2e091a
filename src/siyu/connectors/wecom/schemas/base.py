"""The envelope every WeCom answer shares, and the access token (protocol.md §0–1)."""

from pydantic import BaseModel, ConfigDict


class WecomModel(BaseModel):
    # WeCom is not consistent about numbers vs strings (gender is "1" in one API, 1 in
    # another; times come as "1605000000" or 1605000000): accept both.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


class WecomResponse(WecomModel):
    """The envelope every API answers with; business fields sit beside these two."""

    errcode: int = 0
    errmsg: str = "ok"


class CursorPage(WecomResponse):
    """A page of a cursor-paged list: an empty `next_cursor` marks the last page."""

    next_cursor: str = ""


# ---------------------------------------------------------------- access token


class AccessTokenResponse(WecomResponse):
    access_token: str
    expires_in: int = 7200
