"""Held SMTP connections: nothing is the server's until the dot, and content arrives intact."""

import asyncio
from pathlib import Path

from siyu.connectors.outcome import SendOutcome
from siyu.connectors.smtp.config import Email, SmtpConfig
from siyu.connectors.smtp.held import HeldConnection, payload
from siyu.connectors.smtp.lean_sink import LeanSink
from siyu.connectors.smtp.message import render
from tests.connectors.smtp.conftest import PASSWORD, USER, Certificate, Recorder, StartServer

SENDER = "news@shop.example"


def _email(to: str, text: str, number: int = 1) -> Email:
    return Email(
        to_address=to,
        subject="通知",
        text=text,
        message_id=f"<held-{number}@shop.example>",
    )


async def _send(connection: HeldConnection, email: Email) -> SendOutcome:
    content = payload(render(connection.config, email))
    refused = await connection.prepare(SENDER, email.to_address, content, email.message_id)
    if refused is not None:
        return refused
    lost = connection.release()
    return lost if lost is not None else await connection.outcome()


def test_payload_doubles_every_leading_dot_of_the_crlf_message() -> None:
    assert payload(b".a\r\nb\r\n..c\r\n.\r\nd") == b"..a\r\nb\r\n...c\r\n..\r\nd\r\n"


def test_lines_starting_with_a_dot_arrive_unchanged(smtp_server: StartServer) -> None:
    server = smtp_server()
    text = ".first line\n.\n..two dots\nlast\n"

    async def run() -> SendOutcome:
        connection = HeldConnection(server.config())
        try:
            return await _send(connection, _email("wang@example.cn", text))
        finally:
            await connection.quit()

    outcome = asyncio.run(run())

    assert outcome.ok, outcome
    [received] = server.handler.messages
    assert received.message.get_content().replace("\r\n", "\n") == text


def test_a_prepared_message_closed_without_its_dot_never_arrives(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()

    async def run() -> SendOutcome:
        dropped = HeldConnection(server.config())
        email = _email("li@example.cn", "不会送达")
        content = payload(render(dropped.config, email))
        assert await dropped.prepare(SENDER, email.to_address, content, email.message_id) is None
        dropped.close()
        kept = HeldConnection(server.config())
        try:
            return await _send(kept, _email("zhang@example.cn", "送达", 2))
        finally:
            await kept.quit()

    outcome = asyncio.run(run())

    assert outcome.ok, outcome
    assert [m.rcpt_tos for m in server.handler.messages] == [["zhang@example.cn"]]


def test_a_refused_recipient_fails_alone_and_the_connection_goes_on(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(Recorder(replies={"gone@example.cn": "550 5.1.1 no such user"}))

    async def run() -> list[SendOutcome]:
        connection = HeldConnection(server.config())
        try:
            return [
                await _send(connection, _email("gone@example.cn", "a")),
                await _send(connection, _email("liu@example.cn", "b", 2)),
            ]
        finally:
            await connection.quit()

    refused, sent = asyncio.run(run())

    assert (refused.ok, refused.retryable, refused.code) == (False, False, "smtp_550")
    assert sent.ok
    assert [m.rcpt_tos for m in server.handler.messages] == [["liu@example.cn"]]


def test_a_pipelining_server_takes_the_message_only_at_the_dot(tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    with LeanSink(journal=journal) as sink:
        config = SmtpConfig(host="127.0.0.1", port=sink.port, from_address=SENDER)

        async def run() -> tuple[int, SendOutcome]:
            connection = HeldConnection(config)
            email = _email("chen@example.cn", ".点开始的一行")
            content = payload(render(config, email))
            assert (
                await connection.prepare(SENDER, email.to_address, content, email.message_id)
                is None
            )
            before_dot = sink.accepted
            assert connection.release() is None
            outcome = await connection.outcome()
            await connection.quit()
            return before_dot, outcome

        before_dot, outcome = asyncio.run(run())
        after = sink.accepted

    assert (before_dot, after) == (0, 1)
    assert outcome.ok
    assert outcome.provider_id == "<held-1@shop.example>"
    assert journal.read_text() == "<held-1@shop.example> chen@example.cn\n"


def test_a_held_session_over_starttls_with_a_login_sends_both_messages(
    smtp_server: StartServer, certificate: Certificate
) -> None:
    server = smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=True,
        auth_required=True,
    )
    config = server.config(
        security="starttls", ca_file=str(certificate.cert_file), username=USER, password=PASSWORD
    )

    async def run() -> list[SendOutcome]:
        connection = HeldConnection(config)
        try:
            return [
                await _send(connection, _email("wu@example.cn", "第一封")),
                await _send(connection, _email("zhou@example.cn", "第二封", 2)),
            ]
        finally:
            await connection.quit()

    outcomes = asyncio.run(run())

    assert all(o.ok for o in outcomes), outcomes
    assert [m.rcpt_tos for m in server.handler.messages] == [
        ["wu@example.cn"],
        ["zhou@example.cn"],
    ]
    assert len(server.handler.logins) == 1  # one session for both


async def _send_each_behind_the_last_dot(
    connection: HeldConnection, emails: list[Email]
) -> list[SendOutcome]:
    """In turn; each dot carries the next message's MAIL, RCPT and DATA in its write."""
    outcomes: list[SendOutcome] = []
    for index, email in enumerate(emails):
        content = payload(render(connection.config, email))
        refused = await connection.prepare(SENDER, email.to_address, content, email.message_id)
        if refused is not None:
            outcomes.append(refused)
            continue
        ahead = (SENDER, emails[index + 1].to_address) if index + 1 < len(emails) else None
        lost = connection.release(ahead)
        outcomes.append(lost if lost is not None else await connection.outcome())
    return outcomes


def test_each_dot_carries_the_next_envelope_and_every_message_arrives_once(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(
        Recorder(replies={"gone@example.cn": "550 5.1.1 no such user"}, pipelining=True)
    )
    emails = [
        _email("he@example.cn", "第一封", 1),
        _email("gone@example.cn", "退回", 2),
        _email("luo@example.cn", "第三封", 3),
        _email("gao@example.cn", "第四封", 4),
    ]

    async def run() -> tuple[list[SendOutcome], bool]:
        connection = HeldConnection(server.config())
        try:
            outcomes = await _send_each_behind_the_last_dot(connection, emails)
            # the last dot with an envelope behind it, left unfinished: QUIT drops it
            content = payload(render(connection.config, _email("he@example.cn", "再一封", 5)))
            assert await connection.prepare(SENDER, "he@example.cn", content, "<x@y>") is None
            assert connection.release((SENDER, "zhao@example.cn")) is None
            outcomes.append(await connection.outcome())
            return outcomes, connection.envelope_sent(SENDER, "zhao@example.cn")
        finally:
            await connection.quit()

    outcomes, envelope_ahead = asyncio.run(run())

    assert [(o.ok, o.code) for o in outcomes] == [
        (True, None),
        (False, "smtp_550"),
        (True, None),
        (True, None),
        (True, None),
    ]
    assert envelope_ahead
    received = server.handler.messages
    assert [m.rcpt_tos for m in received] == [
        ["he@example.cn"],
        ["luo@example.cn"],
        ["gao@example.cn"],
        ["he@example.cn"],
    ]
    assert len({m.peer for m in received}) == 1  # one session, the refusal included


def test_an_envelope_behind_a_dot_hands_nothing_over_when_the_connection_drops(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.txt"
    with LeanSink(journal=journal) as sink:
        config = SmtpConfig(host="127.0.0.1", port=sink.port, from_address=SENDER)

        async def run() -> list[SendOutcome]:
            connection = HeldConnection(config)
            first = _email("song@example.cn", "送达", 1)
            content = payload(render(config, first))
            assert (
                await connection.prepare(SENDER, first.to_address, content, first.message_id)
                is None
            )
            assert connection.release((SENDER, "tang@example.cn")) is None
            sent = await connection.outcome()
            # the sender dies, or another sender took this row: no content, no dot
            connection.close()
            again = HeldConnection(config)
            try:
                return [sent, await _send(again, _email("tang@example.cn", "只一封", 2))]
            finally:
                await again.quit()

        outcomes = asyncio.run(run())
        accepted = sink.accepted

    assert all(o.ok for o in outcomes), outcomes
    assert accepted == 2
    assert journal.read_text().splitlines() == [
        "<held-1@shop.example> song@example.cn",
        "<held-2@shop.example> tang@example.cn",
    ]


def test_a_spent_connection_takes_no_envelope_behind_its_last_dot(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(Recorder(pipelining=True))
    emails = [_email("qian@example.cn", "一", 1), _email("sun@example.cn", "二", 2)]

    async def run() -> list[SendOutcome]:
        connection = HeldConnection(server.config(messages_per_connection=1))
        try:
            return await _send_each_behind_the_last_dot(connection, emails)
        finally:
            await connection.quit()

    outcomes = asyncio.run(run())

    assert all(o.ok for o in outcomes), outcomes
    received = server.handler.messages
    assert [m.rcpt_tos for m in received] == [["qian@example.cn"], ["sun@example.cn"]]
    assert received[0].peer != received[1].peer
