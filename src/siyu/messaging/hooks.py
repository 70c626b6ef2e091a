"""Public receivers of what Aliyun SMS pushes (at the root, no sign-in):

    POST /hooks/aliyun-sms/{token}/report   delivery reports (SmsReport): a JSON array
    POST /hooks/aliyun-sms/{token}/up       customer replies (SmsUp): a JSON array

The token in the path is the only credential (receipts.py says how it is made). Answers:
200 with Aliyun's ack `{"code":0,"msg":"接收成功"}` once stored; 403 for a token that is
not ours, before the body is read; 400 for a body that is not a JSON array of reports or
replies (logged, nothing stored: Aliyun's retries cannot fix it); 413 past 1 MiB; 503
when a report names a message that is still being handed over, so Aliyun pushes the
batch again later (what it could store is stored; repeats change nothing).
"""

import logging
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from siyu.config import Settings
from siyu.connectors.aliyun_sms.receipts import ACK, NACK_STATUS, parse_reports, parse_uplinks
from siyu.db.dependencies import DbSession
from siyu.exceptions import BadRequest, Forbidden, PayloadTooLarge, ValidationFailed
from siyu.messaging import receipts
from siyu.messaging.receipts import HOOKS_PREFIX

log = logging.getLogger(__name__)

router = APIRouter(prefix=HOOKS_PREFIX, include_in_schema=False)

MAX_BODY_BYTES = 1024 * 1024
MAX_TOKEN_LENGTH = 200
RETRY_LATER = {"code": 1, "msg": "部分回执对应的短信仍在提交中，请稍后重推"}

PUSHED_ITEMS = Counter(
    "siyu_sms_receipt_items_total",
    "Items of Aliyun SMS pushes by kind (report, uplink) and what they did",
    ["kind", "outcome"],
)
REFUSED_PUSHES = Counter(
    "siyu_sms_receipt_pushes_refused_total",
    "Aliyun SMS pushes refused, by kind and reason",
    ["kind", "reason"],
)

Item = TypeVar("Item")


def _kind(request: Request) -> str:
    return "uplink" if request.url.path.endswith("/up") else "report"


def _workspace(token: str, request: Request) -> int:
    settings: Settings = request.app.state.settings
    workspace_id = (
        receipts.workspace_of(settings, token) if len(token) <= MAX_TOKEN_LENGTH else None
    )
    if workspace_id is None:
        REFUSED_PUSHES.labels(_kind(request), "bad_token").inc()
        log.warning("sms %s push refused: the URL token is not ours", _kind(request))
        raise Forbidden("不是本系统签发的短信回执地址，请在渠道账号设置中复制推送地址")
    return workspace_id


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge("推送内容超过 1 MiB", {"field": "body"})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge("推送内容超过 1 MiB", {"field": "body"})
    return bytes(body)


Workspace = Annotated[int, Depends(_workspace)]
Body = Annotated[bytes, Depends(_body)]


def _parsed(
    parse: Callable[[bytes], list[Item]], body: bytes, kind: str, workspace: int
) -> list[Item]:
    try:
        return parse(body)
    except ValidationFailed as exc:
        REFUSED_PUSHES.labels(kind, "malformed").inc()
        log.warning(
            "sms %s push for workspace %s refused: %s (%d bytes)", kind, workspace, exc, len(body)
        )
        raise BadRequest(exc.message, {"field": exc.field}) from exc


@router.post("/{token}/report")
def receive_reports(workspace_id: Workspace, body: Body, session: DbSession) -> Response:
    reports = _parsed(parse_reports, body, "report", workspace_id)
    tally = receipts.apply_receipts(
        session, workspace_id, [receipts.from_report(r) for r in reports]
    )
    for outcome, count in tally.as_dict().items():
        if count:
            PUSHED_ITEMS.labels("report", outcome).inc(count)
    if tally.unknown:
        log.info("sms reports for workspace %s: %s", workspace_id, tally.as_dict())
    if tally.in_flight:
        return JSONResponse(RETRY_LATER, status_code=NACK_STATUS)
    return JSONResponse(ACK)


@router.post("/{token}/up")
def receive_uplinks(workspace_id: Workspace, body: Body, session: DbSession) -> Response:
    uplinks = _parsed(parse_uplinks, body, "uplink", workspace_id)
    tally = receipts.apply_uplinks(session, workspace_id, uplinks)
    for outcome, count in tally.as_dict().items():
        if count:
            PUSHED_ITEMS.labels("uplink", outcome).inc(count)
    return JSONResponse(ACK)
