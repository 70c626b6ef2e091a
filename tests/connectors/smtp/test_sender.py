import asyncio
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

import pytest

from siyu.connectors.outcome import SendOutcome
from siyu.connectors.smtp.config import Attachment, Email, SmtpConfig
from siyu.connectors.smtp.sender import SmtpSender
from tests.connectors.smtp.conftest import Recorder, StartServer, free_port

HTML = "<html><body><p>亲爱的会员，您好！</p>\n<p>本周新品上架，全场八折。</p></body></html>"


def email(number: int = 1, **overrides: Any) -> Email:
    values: dict[str, Any] = {
        "to_address": f"buyer{number}@example.com",
        "to_name": "张三",
        "subject": "【思域】本周新品八折，限时抢购！",
        "text": "您好，本周新品上架。\n.这一行以句点开头\n",
        "html": HTML,
        "message_id": f"<broadcast-7.delivery-{number}@siyu>",
    }
    values.update(overrides)
    return Email(**values)


def send(config: SmtpConfig, *emails: Email) -> list[SendOutcome]:
    async def run() -> list[SendOutcome]:
        async with SmtpSender(config) as sender:
            return [await sender.send(one) for one in emails]

    return asyncio.run(run())


def send_many(config: SmtpConfig, emails: Sequence[Email]) -> tuple[list[SendOutcome], int]:
    async def run() -> tuple[list[SendOutcome], int]:
        async with SmtpSender(config) as sender:
            outcomes = await sender.send_many(emails)
            return outcomes, sender.connections_opened

    return asyncio.run(run())


def only_message(handler: Recorder) -> EmailMessage:
    assert len(handler.messages) == 1
    return handler.messages[0].message


def test_text_and_html_arrive_as_alternatives_with_chinese_subject_and_names(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()

    [outcome] = send(server.config(), email())

    assert outcome == SendOutcome(ok=True, provider_id="<broadcast-7.delivery-1@siyu>")
    received = server.handler.messages[0]
    assert received.mail_from == "news@shop.example"
    assert received.rcpt_tos == ["buyer1@example.com"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "【思域】本周新品八折，限时抢购！"
    assert message["From"].addresses[0].display_name == "思域商城"
    assert message["From"].addresses[0].addr_spec == "news@shop.example"
    assert message["To"].addresses[0].display_name == "张三"
    assert message["Message-ID"] == "<broadcast-7.delivery-1@siyu>"
    assert message["Date"].datetime is not None
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    # A line starting with "." survives the SMTP dot-stuffing both ways.
    assert plain.get_content().replace("\r\n", "\n") == "您好，本周新品上架。\n.这一行以句点开头\n"
    assert html.get_content().replace("\r\n", "\n") == HTML
    assert not message.defects


def test_ascii_text_goes_as_quoted_printable_and_keeps_leading_dots(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    text = "Hello\n.\n..two dots\n" + "a long line " * 20 + "\n"

    [outcome] = send(server.config(), email(subject="Plain", text=text, html=None, to_name=""))

    assert outcome.ok
    message = only_message(server.handler)
    assert message.get_content_type() == "text/plain"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.get_content().replace("\r\n", "\n") == text


def test_custom_headers_such_as_list_unsubscribe_are_sent(smtp_server: StartServer) -> None:
    server = smtp_server()
    headers = {
        "List-Unsubscribe": "<https://siyu.example/u/abc123>, <mailto:unsub@siyu.example>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Campaign": "双十一预热",
    }

    [outcome] = send(server.config(), email(headers=headers))

    assert outcome.ok
    message = only_message(server.handler)
    for name, value in headers.items():
        assert message[name] == value


def test_attachments_arrive_with_their_chinese_filenames(smtp_server: StartServer) -> None:
    server = smtp_server()
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 4
    attachment = Attachment(filename="价目表 2026.pdf", content_type="application/pdf", content=pdf)

    [outcome] = send(server.config(), email(attachments=(attachment,)))

    assert outcome.ok
    message = only_message(server.handler)
    assert message.get_content_type() == "multipart/mixed"
    [part] = list(message.iter_attachments())
    assert part.get_filename() == "价目表 2026.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == pdf
    html = message.get_body(("html",))
    assert html is not None
    assert html.get_content().replace("\r\n", "\n") == HTML


def test_a_refused_recipient_is_final_while_the_others_go_through(
    smtp_server: StartServer,
) -> None:
    handler = Recorder(
        replies={
            "buyer2@example.com": "550 5.1.1 Mailbox unavailable",
            "buyer4@example.com": "553 5.1.3 Bad destination mailbox address",
        }
    )
    server = smtp_server(handler)

    outcomes, _ = send_many(server.config(max_connections=2), [email(n) for n in range(1, 7)])

    assert outcomes[1] == SendOutcome(
        ok=False, retryable=False, code="smtp_550", reason="5.1.1 Mailbox unavailable"
    )
    assert outcomes[3].code == "smtp_553"
    assert not outcomes[3].retryable
    assert [o.ok for o in outcomes] == [True, False, True, False, True, True]
    assert [o.provider_id for o in outcomes if o.ok] == [
        f"<broadcast-7.delivery-{n}@siyu>" for n in (1, 3, 5, 6)
    ]
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        f"buyer{n}@example.com" for n in (1, 3, 5, 6)
    ]


def test_a_temporary_refusal_is_retryable_and_the_session_carries_on(
    smtp_server: StartServer,
) -> None:
    handler = Recorder(replies={"buyer1@example.com": "451 4.3.0 Try again later"})
    server = smtp_server(handler)

    first, second = send(server.config(max_connections=1), email(1), email(2))

    assert first == SendOutcome(
        ok=False, retryable=True, code="smtp_451", reason="4.3.0 Try again later"
    )
    assert second.ok
    assert len({m.peer for m in handler.messages}) == 1


def test_a_connection_lost_before_the_servers_answer_is_retryable(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(Recorder(hang_up_in_data=True))

    [outcome] = send(server.config(), email())

    assert not outcome.ok
    assert outcome.retryable
    assert outcome.code == "smtp_disconnected"


def test_an_unreachable_server_is_retryable() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), from_address="news@shop.example")

    [outcome] = send(config, email())

    assert not outcome.ok
    assert outcome.retryable
    assert outcome.code == "smtp_unreachable"


@pytest.mark.parametrize(
    "bad",
    [
        {"to_address": "not-an-address"},
        {"to_address": "a@example.com, b@example.com"},
        {"to_address": "张三@例子.中国"},
        {"headers": {"X-Evil": "yes\r\nBcc: victim@example.com"}},
        {"headers": {"Subject": "a second subject"}},
        {"message_id": "no-angle-brackets@siyu"},
    ],
)
def test_an_email_that_cannot_be_sent_is_final_and_never_reaches_the_server(
    smtp_server: StartServer, bad: dict[str, Any]
) -> None:
    server = smtp_server()

    [outcome] = send(server.config(), email(**bad))

    assert not outcome.ok
    assert not outcome.retryable
    assert outcome.code == "smtp_bad_message"
    assert server.handler.messages == []


def test_the_pool_reopens_connections_the_server_dropped(smtp_server: StartServer) -> None:
    handler = Recorder(drop_after_message=True)
    server = smtp_server(handler)

    async def run() -> list[SendOutcome]:
        async with SmtpSender(server.config(max_connections=1)) as sender:
            outcomes = []
            for n in range(1, 6):
                outcomes.append(await sender.send(email(n)))
                await asyncio.sleep(0.05)  # let the server's hang-up arrive (or not: both work)
            return outcomes

    outcomes = asyncio.run(run())

    assert all(o.ok for o in outcomes)
    assert len(handler.messages) == 5
    assert len(set(handler.peers())) == 5


def test_a_session_is_replaced_after_messages_per_connection(smtp_server: StartServer) -> None:
    server = smtp_server()

    outcomes = send(
        server.config(max_connections=1, messages_per_connection=3),
        *(email(n) for n in range(1, 8)),
    )

    assert all(o.ok for o in outcomes)
    peers = server.handler.peers()
    assert [peers.count(peer) for peer in dict.fromkeys(peers)] == [3, 3, 1]


def test_send_many_uses_every_pooled_connection_at_once(smtp_server: StartServer) -> None:
    server = smtp_server()
    emails = [email(n) for n in range(1, 41)]

    outcomes, opened = send_many(server.config(max_connections=4), emails)

    assert [o.provider_id for o in outcomes] == [e.message_id for e in emails]
    assert opened == 4
    peers = server.handler.peers()
    assert len(set(peers)) == 4
    assert sorted(m.rcpt_tos[0] for m in server.handler.messages) == sorted(
        e.to_address for e in emails
    )
