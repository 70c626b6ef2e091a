"""The settings page's "test connection": connect, set up TLS, log in, say what failed."""

from siyu.connectors.smtp.config import SmtpConfig
from siyu.connectors.smtp.errors import (
    SmtpAuthFailed,
    SmtpError,
    SmtpRejected,
    SmtpTlsFailed,
    SmtpUnreachable,
)
from siyu.connectors.smtp.session import SessionFailed, SessionFailure, open_session


async def check(config: SmtpConfig) -> None:
    """Return if the account can connect and log in; raise a typed `SmtpError` if not."""
    try:
        client = await open_session(config)
    except SessionFailed as failed:
        raise error_for(config, failed.failure) from failed
    try:
        await client.quit()
    except Exception:  # noqa: S110 - the check passed; a rude goodbye changes nothing
        pass
    finally:
        client.close()


def error_for(config: SmtpConfig, failure: SessionFailure) -> SmtpError:
    where = f"{config.host}:{config.port}"
    details = {"reason": failure.reason, "smtp_code": failure.smtp_code}
    if failure.kind == "unreachable":
        return SmtpUnreachable(
            f"无法连接邮件服务器 {where}：请检查服务器地址、端口和防火墙（{failure.reason}）",
            host=config.host,
            port=config.port,
            **details,
        )
    if failure.kind == "timeout":
        return SmtpUnreachable(
            f"连接邮件服务器 {where} 超时：请检查地址、端口，以及加密方式是否与端口匹配"
            "（465 通常为 SSL/TLS，587 为 STARTTLS）",
            host=config.host,
            port=config.port,
            **details,
        )
    if failure.kind == "tls":
        return SmtpTlsFailed(
            f"与 {where} 建立加密连接失败：请确认加密方式与端口匹配；"
            f"自签名证书请上传 CA 证书（{failure.reason}）",
            host=config.host,
            port=config.port,
            **details,
        )
    if failure.kind == "auth":
        return SmtpAuthFailed(
            f"邮件服务器 {where} 拒绝登录：请检查用户名和密码"
            f"（部分邮箱需使用授权码而非登录密码）（{failure.reason}）",
            host=config.host,
            port=config.port,
            **details,
        )
    return SmtpRejected(
        f"邮件服务器 {where} 拒绝了连接：{failure.reason}",
        host=config.host,
        port=config.port,
        **details,
    )
