"""WeCom's error envelope: HTTP 200, errcode/errmsg in the body and in headers."""

import secrets
import time

from fastapi.responses import JSONResponse

MESSAGES = {
    -1: "system busy",
    40001: "invalid credential",
    40003: "invalid userid",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40050: "chatid not found",
    40058: "invalid parameter",
    40068: "invalid tagid",
    40071: "tag name exists",
    40096: "invalid external userid",
    40097: "invalid handover userid",
    40098: "invalid takeover userid",
    40100: "external contact is already in transfer",
    40129: "external contact transfer count exceeds the limit",
    41001: "access_token missing",
    41009: "missing userid",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41035: "missing external userid",
    41037: "missing contact way type",
    41038: "missing contact way scene",
    41039: "invalid contact way type",
    41040: "invalid contact way scene",
    41041: "user count exceed limit",
    41042: "invalid style",
    41043: "missing config_id",
    41044: "invalid config_id",
    41046: "missing msgid",
    41047: "invalid msgid",
    41048: "no valid external userid",
    41049: "missing welcome code",
    41050: "invalid welcome code or welcome code expired",
    41051: "customer and member already start chatting",
    41063: "mass message is still being dispatched",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    44004: "empty content",
    41045: "contact way count exceed limit",
    45001: "media size out of limit",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    48002: "api forbidden",
    60011: "no privilege to access/modify contact/party/agent",
    60020: "not allow to access from your ip",
    60111: "userid not found",
    60112: "invalid username or department_id missing",
    60123: "invalid party id",
    81013: "user & party & tag all invalid",
    81017: "number of items requested exceeds the limit",
    84061: "not external contact",
    90500: "the owner of this chat is not resigned",
    90501: "chat is not external group chat",
    90502: "the owner of this chat has resigned",
    90504: "the owner of this chat is already the new owner",
    90507: "the chat is being inherited",
    90508: "the chat has been inherited",
    84074: "no external contact permission",
}


class ApiError(Exception):
    """A business error the simulator answers with, as WeCom would."""

    def __init__(self, errcode: int, detail: str = "", **extra: object) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.detail = detail
        self.extra = extra


def errmsg(errcode: int, detail: str = "") -> str:
    text = MESSAGES.get(errcode, "error")
    if detail:
        text = f"{text}: {detail}"
    hint = f"[{int(time.time())}_{secrets.randbelow(100)}_{secrets.token_hex(16)}]"
    return (
        f"{text}, hint: {hint}, from ip: 127.0.0.1, "
        f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    )


def error_response(errcode: int, detail: str = "", **extra: object) -> JSONResponse:
    message = errmsg(errcode, detail)
    return JSONResponse(
        {"errcode": errcode, "errmsg": message, **extra},
        headers={
            "error-code": str(errcode),
            "error-msg": message.encode("ascii", "replace").decode(),
        },
    )


def ok_response(body: dict[str, object]) -> JSONResponse:
    return JSONResponse(
        {"errcode": 0, "errmsg": "ok", **body}, headers={"error-code": "0", "error-msg": "ok"}
    )
