"""An async client of Aliyun SMS (Dysmsapi 2017-05-25), RPC style with signature V1.

Every call is a POST of form-encoded parameters to the endpoint root, signed with the
AccessKey secret (which is never sent, logged or shown in `repr`). Sends never retry on
their own: they return a `SendOutcome` and the caller decides, because a send that timed
out may still have gone out (`in_doubt`: `find_by_out_id` tells whether Aliyun has it).
Queries retry throttling and Aliyun's own faults a few times, then raise `AliyunSmsError`.
"""

import asyncio
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self

import httpx

from siyu.connectors.aliyun_sms.errors import (
    IN_DOUBT,
    NETWORK,
    OK,
    AliyunSmsError,
    classify_send,
    hint_for,
    is_retryable,
)
from siyu.connectors.aliyun_sms.schemas import (
    SendDetailsPage,
    SmsSendDetail,
    SmsSign,
    SmsTemplate,
    sign_from,
    template_from,
)
from siyu.connectors.aliyun_sms.signing import sign_request
from siyu.connectors.aliyun_sms.templates import TemplateType, check_params
from siyu.connectors.outcome import SendOutcome
from siyu.exceptions import ValidationFailed

DEFAULT_BASE_URL = "https://dysmsapi.aliyuncs.com"
API_VERSION = "2017-05-25"
REGION_ID = "cn-hangzhou"
MAX_PAGE_SIZE = 50
BATCH_MAX_NUMBERS = 100
# Failures before the request left: nothing can have reached Aliyun.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAINLAND = re.compile(r"(?:\+?86|0086)?(1\d{10})")

logger = logging.getLogger(__name__)


class AliyunSmsClient:
    """Calls of one AccessKey. Use `async with`, or `aclose()` when done, unless you passed
    in the `http` client (then closing it is yours)."""

    def __init__(
        self,
        base_url: str,
        access_key_id: str,
        access_key_secret: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        read_retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.timeout = timeout
        self.read_retries = read_retries
        self.backoff = backoff
        self._http = http
        self._owned: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"access_key_id={self.access_key_id!r})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.aclose()
            self._owned = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        if self._owned is None:
            self._owned = httpx.AsyncClient(timeout=self.timeout)
        return self._owned

    async def call(self, action: str, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """One signed call: (HTTP status, JSON body). Network errors propagate (httpx)."""
        common = {
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "RegionId": REGION_ID,
        }
        form = sign_request("POST", {**common, **params}, self.access_key_id, self._secret)
        response = await self._client().post(self.base_url, data=form, timeout=self.timeout)
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {}
        if not isinstance(body, dict):
            body = {}
        return response.status_code, body

    # --- sending ---------------------------------------------------------------------

    async def send_sms(
        self,
        phone: str,
        sign_name: str,
        template_code: str,
        params: Mapping[str, str],
        out_id: str,
        *,
        template: SmsTemplate | None = None,
    ) -> SendOutcome:
        """SendSms to one number (or several, comma-separated). `provider_id` is the BizId.

        Values Aliyun would refuse (a missing variable; more than 35 characters; with
        `template` also the verification-code rule) end in a final outcome without a call.
        """
        refused = _check_locally(params, template)
        if refused is not None:
            return refused
        request = {
            "PhoneNumbers": phone,
            "SignName": sign_name,
            "TemplateCode": template_code,
            "OutId": out_id,
        }
        if params:
            request["TemplateParam"] = json.dumps(dict(params), ensure_ascii=False)
        return await self._send("SendSms", request)

    async def send_batch(
        self,
        phones: Sequence[str],
        sign_names: Sequence[str],
        template_code: str,
        params: Sequence[Mapping[str, str]],
        *,
        template: SmsTemplate | None = None,
    ) -> SendOutcome:
        """SendBatchSms: up to 100 numbers, each with its own sign and values; one BizId."""
        if not phones or len(phones) > BATCH_MAX_NUMBERS:
            raise ValidationFailed("phones", f"每批 1–{BATCH_MAX_NUMBERS} 个号码")
        if len(sign_names) != len(phones) or (params and len(params) != len(phones)):
            raise ValidationFailed("sign_names", "签名和变量的个数必须与号码个数相同")
        for values in params:
            refused = _check_locally(values, template)
            if refused is not None:
                return refused
        request = {
            "PhoneNumberJson": json.dumps(list(phones)),
            "SignNameJson": json.dumps(list(sign_names), ensure_ascii=False),
            "TemplateCode": template_code,
        }
        if params:
            request["TemplateParamJson"] = json.dumps(
                [dict(values) for values in params], ensure_ascii=False
            )
        return await self._send("SendBatchSms", request)

    async def _send(self, action: str, request: Mapping[str, str]) -> SendOutcome:
        try:
            status, body = await self.call(action, request)
        except NOT_SENT_ERRORS as exc:
            logger.warning("aliyun sms %s failed: %s", action, type(exc).__name__)
            return SendOutcome(
                ok=False, retryable=True, code=NETWORK, reason=_with_hint(NETWORK, str(exc))
            )
        except httpx.HTTPError as exc:
            logger.warning("aliyun sms %s sent, answer lost: %s", action, type(exc).__name__)
            return SendOutcome(
                ok=False,
                retryable=True,
                in_doubt=True,
                code=IN_DOUBT,
                reason=_with_hint(IN_DOUBT, type(exc).__name__),
            )
        code = str(body.get("Code") or f"HTTP {status}")
        if status == 200 and code == OK and body.get("BizId"):
            return SendOutcome(ok=True, provider_id=str(body["BizId"]), code=OK)
        message = str(body.get("Message") or "")
        verdict = classify_send(code, status, message)
        return SendOutcome(
            ok=False,
            retryable=verdict.retryable,
            code=code,
            reason=_with_hint(code, message),
            in_doubt=verdict.in_doubt,
            retry_after=verdict.retry_after,
            pause=verdict.pause,
        )

    # --- queries ---------------------------------------------------------------------

    async def _query(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                status, body = await self.call(action, params)
                code = str(body.get("Code") or f"HTTP {status}")
                if status == 200 and code == OK:
                    return body
                error = AliyunSmsError(
                    code,
                    str(body.get("Message") or ""),
                    retryable=is_retryable(code, status),
                    request_id=str(body.get("RequestId") or ""),
                )
            except httpx.HTTPError as exc:
                error = AliyunSmsError(NETWORK, type(exc).__name__, retryable=True)
            if not error.retryable or attempt >= self.read_retries:
                raise error
            attempt += 1
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    async def query_send_details(
        self,
        phone: str,
        send_date: date,
        *,
        biz_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        current_page: int = 1,
    ) -> SendDetailsPage:
        """QuerySendDetails: what was sent to `phone` on `send_date` (Beijing date)."""
        params = {
            "PhoneNumber": query_number(phone),
            "SendDate": send_date.strftime("%Y%m%d"),
            "PageSize": str(page_size),
            "CurrentPage": str(current_page),
        }
        if biz_id:
            params["BizId"] = biz_id
        body = await self._query("QuerySendDetails", params)
        dtos = body.get("SmsSendDetailDTOs") or {}
        raw = dtos.get("SmsSendDetailDTO", []) if isinstance(dtos, dict) else dtos
        details = [SmsSendDetail.model_validate(item) for item in raw]
        return SendDetailsPage(total_count=int(body.get("TotalCount") or 0), details=details)

    async def find_by_out_id(
        self, phone: str, out_id: str, send_dates: Iterable[date]
    ) -> SmsSendDetail | None:
        """The message sent to `phone` with our `out_id` on one of `send_dates`, if Aliyun has it.

        QuerySendDetails takes no OutId (only the number, the date, a BizId and paging), but
        each record carries the OutId of its send: every page of each day is read until the
        record turns up.
        """
        for send_date in send_dates:
            current_page = 1
            while True:
                page = await self.query_send_details(phone, send_date, current_page=current_page)
                for detail in page.details:
                    if detail.out_id == out_id:
                        return detail
                if not page.details or current_page * MAX_PAGE_SIZE >= page.total_count:
                    break
                current_page += 1
        return None

    async def list_templates(self) -> list[SmsTemplate]:
        """Every template of the account (QuerySmsTemplateList, all pages)."""
        return [
            template_from(raw)
            for raw in await self._pages("QuerySmsTemplateList", "SmsTemplateList")
        ]

    async def list_signs(self) -> list[SmsSign]:
        """Every sign of the account (QuerySmsSignList, all pages)."""
        return [sign_from(raw) for raw in await self._pages("QuerySmsSignList", "SmsSignList")]

    async def _pages(self, action: str, key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self._query(
                action, {"PageIndex": str(page), "PageSize": str(MAX_PAGE_SIZE)}
            )
            items = body.get(key) or []
            found.extend(items)
            if len(items) < MAX_PAGE_SIZE:
                return found
            page += 1


def query_number(phone: str) -> str:
    """QuerySendDetails wants a mainland number as its 11 digits (+86 13800000001 → 138…)."""
    mainland = _MAINLAND.fullmatch(phone.strip())
    return mainland.group(1) if mainland else phone


def _with_hint(code: str, message: str) -> str:
    hint = hint_for(code)
    if hint and message:
        return f"{hint}（{message}）"
    return hint or message or code


def _check_locally(params: Mapping[str, str], template: SmsTemplate | None) -> SendOutcome | None:
    """The variable rules Aliyun enforces, checked before spending a call."""
    try:
        if template is not None:
            kind = template.template_type
            check_params(
                template.template_content,
                params,
                TemplateType.VERIFICATION_CODE
                if kind == TemplateType.VERIFICATION_CODE
                else TemplateType.NOTIFICATION,
            )
        else:
            check_params("".join(f"${{{name}}}" for name in params), params)
    except ValidationFailed as exc:
        return SendOutcome(
            ok=False,
            retryable=False,
            code=str(exc.details.get("aliyun_code", "isv.INVALID_PARAMETERS")),
            reason=exc.message,
        )
    return None
