import asyncio
import logging

import pytest

from siyu.connectors.outcome import SendOutcome
from siyu.connectors.smtp.check import check
from siyu.connectors.smtp.config import Email, SmtpConfig
from siyu.connectors.smtp.errors import SmtpAuthFailed, SmtpTlsFailed, SmtpUnreachable
from siyu.connectors.smtp.sender import SmtpSender
from tests.connectors.smtp.conftest import (
    PASSWORD,
    USER,
    Certificate,
    StartServer,
    free_port,
)

# Plain-text AUTH is what these tests mean to exercise on loopback.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def email(number: int = 1) -> Email:
    return Email(
        to_address=f"buyer{number}@example.com",
        to_name="李四",
        subject="会员日提醒",
        text="明天是会员日。",
        message_id=f"<broadcast-1.delivery-{number}@siyu>",
    )


def send(config: SmtpConfig, *emails: Email) -> list[SendOutcome]:
    async def run() -> list[SendOutcome]:
        async with SmtpSender(config) as sender:
            return [await sender.send(one) for one in emails]

    return asyncio.run(run())


# -- TLS ------------------------------------------------------------------------------


def test_starttls_with_the_servers_ca_file(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    server = smtp_server(tls_context=certificate.server_context(), require_starttls=True)
    config = server.config(security="starttls", ca_file=str(certificate.cert_file))

    asyncio.run(check(config))
    [outcome] = send(config, email())

    assert outcome.ok
    assert server.handler.messages[0].message["Subject"] == "会员日提醒"


def test_implicit_tls_with_the_servers_ca_file(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    server = smtp_server(ssl_context=certificate.server_context())
    config = server.config(security="tls", ca_file=str(certificate.cert_file))

    asyncio.run(check(config))
    [outcome] = send(config, email())

    assert outcome.ok
    assert len(server.handler.messages) == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_self_signed_certificate_is_refused_unless_verification_is_off(
    smtp_server: StartServer, certificate: Certificate, security: str
) -> None:
    if security == "starttls":
        server = smtp_server(tls_context=certificate.server_context(), require_starttls=True)
    else:
        server = smtp_server(ssl_context=certificate.server_context())

    with pytest.raises(SmtpTlsFailed) as refused:
        asyncio.run(check(server.config(security=security)))
    [outcome] = send(server.config(security=security), email())

    assert refused.value.details["port"] == server.port
    assert outcome.code == "smtp_tls_failed"
    assert not outcome.retryable
    assert server.handler.messages == []

    unverified = server.config(security=security, verify=False)
    asyncio.run(check(unverified))
    assert send(unverified, email())[0].ok


def test_starttls_against_a_server_without_it_is_a_tls_failure(smtp_server: StartServer) -> None:
    server = smtp_server()

    with pytest.raises(SmtpTlsFailed):
        asyncio.run(check(server.config(security="starttls", verify=False)))


def test_a_server_that_requires_starttls_refuses_plain_senders(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    server = smtp_server(tls_context=certificate.server_context(), require_starttls=True)

    [outcome] = send(server.config(security="none"), email())

    assert outcome.code == "smtp_530"
    assert not outcome.retryable


# -- login --------------------------------------------------------------------------


@pytest.mark.parametrize(("offered", "used"), [("PLAIN", "PLAIN"), ("LOGIN", "LOGIN")])
def test_login_with_each_mechanism(smtp_server: StartServer, offered: str, used: str) -> None:
    other = "LOGIN" if offered == "PLAIN" else "PLAIN"
    server = smtp_server(
        authenticator=True,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=[other],
    )
    config = server.config(username=USER, password=PASSWORD)

    asyncio.run(check(config))
    outcomes = send(config, email(1), email(2))

    assert all(o.ok for o in outcomes)
    # check logged in once, the sender once for both messages (one pooled session).
    assert [(mechanism, user) for mechanism, user, _ in server.handler.logins] == [
        (used, USER),
        (used, USER),
    ]


def test_login_after_starttls(smtp_server: StartServer, certificate: Certificate) -> None:
    server = smtp_server(
        authenticator=True,
        auth_required=True,
        tls_context=certificate.server_context(),
        require_starttls=True,
    )
    config = server.config(
        security="starttls",
        ca_file=str(certificate.cert_file),
        username=USER,
        password=PASSWORD,
    )

    [outcome] = send(config, email())

    assert outcome.ok


def test_a_wrong_password_fails_the_check_and_every_send_without_retrying_the_login(
    smtp_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server(authenticator=True, auth_required=True, auth_require_tls=False)
    wrong = "wrong-密码-hunter2"
    config = server.config(username=USER, password=wrong)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SmtpAuthFailed) as refused:
        asyncio.run(check(config))
    outcomes = send(config, email(1), email(2), email(3))

    assert "535" in refused.value.details["reason"]
    assert [o.code for o in outcomes] == ["smtp_auth_failed"] * 3
    assert not any(o.retryable for o in outcomes)
    # One session tried to log in for the check, one for the sender (each trying PLAIN and
    # LOGIN): the sender remembers the refusal instead of logging in again per message.
    assert len({peer for _, _, peer in server.handler.logins}) == 2
    assert server.handler.messages == []
    assert wrong not in caplog.text
    assert wrong not in repr(config)
    assert wrong not in str(refused.value.to_dict())


def test_sending_without_login_to_a_server_that_requires_it_is_final(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(authenticator=True, auth_required=True, auth_require_tls=False)

    [outcome] = send(server.config(), email())

    assert outcome.code == "smtp_530"
    assert not outcome.retryable


# -- reachability -------------------------------------------------------------------------


def test_check_names_an_unreachable_server() -> None:
    port = free_port()  # nothing listens there
    config = SmtpConfig(host="127.0.0.1", port=port, from_address="a@shop.example", timeout=5)

    with pytest.raises(SmtpUnreachable) as unreachable:
        asyncio.run(check(config))

    assert unreachable.value.code == "smtp_unreachable"
    assert unreachable.value.details["host"] == "127.0.0.1"
    assert unreachable.value.details["port"] == port
