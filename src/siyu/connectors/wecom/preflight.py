"""Preflight: is this workspace's WeCom set up well enough for Siyu to work?

Each check says ok, failed or skipped, with a message and — when it failed — what to change
in the WeCom admin console, in Chinese first and in English. Checks run in order and a
check whose precondition failed is skipped: connection → contact secret → directory
secret → customer-contact permission → trusted IP → callback URL.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.clients import find_connection
from siyu.connectors.wecom.errors import (
    CONTACT_APP_FIX,
    TRUSTED_IP_FIX,
    WecomApiError,
    WecomPermissionDenied,
)
from siyu.connectors.wecom.tokens import TokenCache
from siyu.kit.time import utcnow
from siyu.models import WecomConnection

CheckStatus = Literal["ok", "failed", "skipped"]

TRUSTED_IP = 60020
BAD_CORP_ID = 40013
CONTACT_APP_FIX_EN = (
    "In the WeCom admin console open Customers & Upstream/Downstream → Customer Contact → "
    "'Apps that can call the API' and add this app; make sure the members are in the app's "
    "visible range."
)
TRUSTED_IP_FIX_EN = (
    "In the WeCom admin console open App Management → this app → 'Trusted IPs' and add this "
    "server's outbound IP (a trusted domain or callback URL must be set first); it takes "
    "about a minute to apply."
)


class CheckResult(BaseModel):
    name: str
    title: str
    title_en: str
    status: CheckStatus
    message: str
    message_en: str
    fix: str | None = None
    fix_en: str | None = None
    errcode: int | None = None


class PreflightReport(BaseModel):
    ok: bool
    checked_at: datetime
    checks: list[CheckResult]


TITLES: dict[str, tuple[str, str]] = {
    "connection": ("企业微信连接", "WeCom connection"),
    "contact_secret": ("客户联系应用 Secret", "Customer-contact app secret"),
    "directory_secret": ("通讯录同步 Secret", "Directory sync secret"),
    "customer_contact": ("客户联系接口权限", "Customer-contact API permission"),
    "trusted_ip": ("企业可信IP", "Trusted IP"),
    "callback": ("回调 URL", "Callback URL"),
}


@dataclass
class _Run:
    results: list[CheckResult] = field(default_factory=list)
    # The IP WeCom refused (60020), or "" when a refusal did not say which.
    refused_ip: str | None = None

    def add(
        self,
        name: str,
        status: CheckStatus,
        message: str,
        message_en: str,
        *,
        fix: str | None = None,
        fix_en: str | None = None,
        errcode: int | None = None,
    ) -> None:
        title, title_en = TITLES[name]
        self.results.append(
            CheckResult(
                name=name,
                title=title,
                title_en=title_en,
                status=status,
                message=message,
                message_en=message_en,
                fix=fix,
                fix_en=fix_en,
                errcode=errcode,
            )
        )

    def skip(self, name: str, because: str, because_en: str) -> None:
        self.add(name, "skipped", because, because_en)


def _secret_fix(error: WecomApiError, which: str, which_en: str) -> tuple[str, str]:
    if error.errcode == BAD_CORP_ID:
        return (
            "在管理后台 → 我的企业 → 企业信息底部复制「企业ID」，保存到 Siyu 的企业微信连接中。",
            "Copy the Corp ID from My Company → Company Info in the admin console into Siyu.",
        )
    fix = (
        f"在管理后台 → 应用管理 → 打开{which} → 查看 Secret（发送到企业微信后复制），"
        "重新保存到 Siyu 的企业微信连接中。"
    )
    fix_en = (
        f"In the admin console open App Management → {which_en} → view the Secret "
        "(WeCom sends it to your WeCom client), copy it and save it in Siyu again."
    )
    return fix, fix_en


async def _check_secret(
    run: _Run, name: str, client: WecomClient, which: str, which_en: str
) -> bool:
    try:
        await client.ensure_token()
    except WecomApiError as exc:
        if exc.errcode == TRUSTED_IP:
            run.refused_ip = exc.caller_ip or ""
            run.add(
                name,
                "failed",
                "企业微信拒绝了来自本服务器 IP 的请求，无法验证 Secret。",
                "WeCom refused calls from this server's IP, so the secret could not be checked.",
                fix="见「企业可信IP」一项。",
                fix_en="See the Trusted IP check.",
                errcode=exc.errcode,
            )
            return False
        fix, fix_en = _secret_fix(exc, which, which_en)
        run.add(
            name,
            "failed",
            f"获取 access_token 失败（{exc.errcode}）：{exc.hint or exc.errmsg}",
            f"Getting an access token failed ({exc.errcode}): {exc.errmsg}",
            fix=fix,
            fix_en=fix_en,
            errcode=exc.errcode,
        )
        return False
    run.add(name, "ok", "Secret 有效，已获取 access_token。", "The secret works: got a token.")
    return True


async def _check_customer_contact(run: _Run, client: WecomClient) -> bool:
    try:
        follow = await client.externalcontact_get_follow_user_list()
    except WecomApiError as exc:
        fix: str | None
        fix_en: str | None
        if exc.errcode == TRUSTED_IP:
            run.refused_ip = exc.caller_ip or ""
            fix, fix_en = "见「企业可信IP」一项。", "See the Trusted IP check."
        elif isinstance(exc, WecomPermissionDenied):
            fix, fix_en = CONTACT_APP_FIX, CONTACT_APP_FIX_EN
        else:
            fix, fix_en = exc.hint, None
        run.add(
            "customer_contact",
            "failed",
            f"调用客户联系接口失败（{exc.errcode}）：{exc.hint or exc.errmsg}",
            f"Calling the customer-contact API failed ({exc.errcode}): {exc.errmsg}",
            fix=fix,
            fix_en=fix_en,
            errcode=exc.errcode,
        )
        return False
    count = len(follow.follow_user)
    run.add(
        "customer_contact",
        "ok",
        f"可以调用客户联系接口，{count} 位成员开通了客户联系。",
        f"Customer-contact APIs work; {count} member(s) have customer contact enabled.",
    )
    return True


def _check_trusted_ip(run: _Run, *, tried: bool, outbound_ip: str | None) -> None:
    if run.refused_ip is not None:
        ip = run.refused_ip or outbound_ip
        where = f"（企业微信看到的来源 IP：{ip}）" if ip else ""
        where_en = f" (WeCom saw the call from {ip})" if ip else ""
        run.add(
            "trusted_ip",
            "failed",
            f"本服务器的出口 IP 不在本应用的「企业可信IP」中{where}。",
            f"This server's outbound IP is not among the app's trusted IPs{where_en}.",
            fix=TRUSTED_IP_FIX + (f" 需要添加的 IP：{ip}" if ip else ""),
            fix_en=TRUSTED_IP_FIX_EN + (f" IP to add: {ip}" if ip else ""),
            errcode=TRUSTED_IP,
        )
    elif tried:
        run.add(
            "trusted_ip", "ok", "企业微信接受了本服务器的请求。", "WeCom accepts calls from here."
        )
    else:
        run.skip("trusted_ip", "未能调用企业微信接口，无法判断。", "No API call got through.")


def _check_callback(run: _Run, connection: WecomConnection, callback_url: str | None) -> None:
    if connection.callback_verified_at is not None:
        when = f"{connection.callback_verified_at:%Y-%m-%d %H:%M} UTC"
        run.add("callback", "ok", f"回调 URL 已于 {when} 验证通过。", f"Verified at {when}.")
        return
    url = callback_url or "（见 Siyu 设置 → 企业微信）"
    run.add(
        "callback",
        "failed",
        "企业微信还没有验证过回调 URL，客户添加、删除、标签变化等事件收不到。",
        "WeCom has not verified the callback URL yet, so no customer events arrive.",
        fix=(
            "在管理后台 → 客户与上下游 → 客户联系 → API → 「接收事件服务器」点击设置，"
            f"填写 URL：{url}，以及 Siyu 设置页显示的 Token 和 EncodingAESKey，然后保存；"
            "企业微信会立即请求该 URL 验证。"
        ),
        fix_en=(
            "In the admin console open Customer Contact → API → 'Receive event server', enter "
            f"URL {url} with the Token and EncodingAESKey shown in Siyu's settings and save; "
            "WeCom verifies the URL at once."
        ),
    )


async def run_preflight(
    session: Session,
    workspace_id: int,
    *,
    callback_url: str | None = None,
    outbound_ip: str | None = None,
) -> PreflightReport:
    """Run every check against WeCom; records the time on the connection (never commits)."""
    run = _Run()
    connection = find_connection(session, workspace_id)
    if connection is None:
        run.add(
            "connection",
            "failed",
            "本工作区还没有连接企业微信。",
            "This workspace is not connected to WeCom.",
            fix="在 Siyu 设置 → 企业微信中填写企业ID（CorpID）和客户联系应用的 Secret。",
            fix_en="Enter the Corp ID and the customer-contact app secret in Settings → WeCom.",
        )
        for name in list(TITLES)[1:]:
            run.skip(name, "未连接企业微信。", "Not connected.")
        return PreflightReport(ok=False, checked_at=utcnow(), checks=run.results)

    run.add(
        "connection",
        "ok",
        f"已连接企业 {connection.corp_id}。",
        f"Connected to corp {connection.corp_id}.",
    )
    tokens = TokenCache()  # fresh: the secrets are checked now, not a token cached earlier
    base = connection.api_base_url
    contact = WecomClient(
        connection.corp_id, connection.contact_secret.get_secret_value(), base, tokens=tokens
    )
    async with contact:
        contact_ok = await _check_secret(
            run, "contact_secret", contact, "客户联系所用的自建应用", "the self-built app"
        )
        if connection.directory_secret is None:
            run.skip("directory_secret", "未配置（可选）。", "Not set (optional).")
        else:
            directory = WecomClient(
                connection.corp_id,
                connection.directory_secret.get_secret_value(),
                base,
                tokens=tokens,
            )
            async with directory:
                await _check_secret(
                    run, "directory_secret", directory, "「通讯录同步」", "Contacts Sync"
                )
        if contact_ok:
            await _check_customer_contact(run, contact)
        else:
            run.skip("customer_contact", "客户联系 Secret 无效。", "The contact secret failed.")
    tried = any(r.status == "ok" for r in run.results if r.name.endswith("_secret"))
    _check_trusted_ip(run, tried=tried, outbound_ip=outbound_ip)
    _check_callback(run, connection, callback_url)
    connection.last_check_at = utcnow()
    ok = all(r.status != "failed" for r in run.results)
    return PreflightReport(ok=ok, checked_at=connection.last_check_at, checks=run.results)
