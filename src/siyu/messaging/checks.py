"""The settings page's "test connection" of a channel account: try it for real, say what failed."""

import uuid
from typing import Any

from siyu.connectors.aliyun_sms.errors import AliyunSmsError
from siyu.connectors.smtp.check import check as check_smtp
from siyu.connectors.smtp.errors import SmtpError
from siyu.connectors.webhook.sender import WebhookSender
from siyu.messaging.adapters import require
from siyu.messaging.schemas import AccountCheck, Channel
from siyu.messaging.sending import sms_client, smtp_config


async def check_account(channel: str, config: dict[str, Any], secret: str) -> AccountCheck:
    if channel == Channel.EMAIL.value:
        try:
            await check_smtp(smtp_config(config, secret))
        except SmtpError as failed:
            return AccountCheck(ok=False, code=failed.code, message=failed.message)
        return AccountCheck(ok=True, message="邮件服务器连接并登录成功")
    if channel == Channel.SMS.value:
        try:
            async with sms_client(config, secret) as client:
                signs = await client.list_signs()
        except AliyunSmsError as failed:
            return AccountCheck(ok=False, code=failed.aliyun_code, message=failed.message)
        return AccountCheck(ok=True, message=f"阿里云短信账号可用，共 {len(signs)} 个签名")
    async with WebhookSender() as sender:
        outcome = await sender.post(
            str(require(config, "url", "webhook")),
            secret,
            "siyu.ping",
            {"message": "Siyu connection test"},
            delivery_id=f"ping.{uuid.uuid4().hex}",
        )
    if outcome.ok:
        return AccountCheck(ok=True, message="接收地址已确认收到测试事件")
    return AccountCheck(ok=False, code=outcome.code, message=outcome.reason or "webhook failed")
