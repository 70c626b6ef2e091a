import asyncio
from pathlib import Path

from siyu.connectors.smtp.config import Email, SmtpConfig
from siyu.connectors.smtp.sender import SmtpSender
from siyu.connectors.smtp.sink import MailSink, list_messages
from tests.connectors.smtp.conftest import free_port


def test_the_demo_sink_keeps_every_message_and_lists_the_newest_first(tmp_path: Path) -> None:
    directory = tmp_path / "mail"
    sink = MailSink("127.0.0.1", free_port(), directory)
    config = SmtpConfig(
        host=sink.host, port=sink.port, from_address="demo@siyu.local", from_name="思域演示"
    )
    emails = [
        Email(
            to_address=f"customer{n}@demo.siyu.local",
            to_name=f"客户{n}",
            subject=f"第 {n} 封：双十一预售开启",
            text=f"您好，客户{n}！\n预售今晚八点开始。",
            html=f"<html><style>p {{}}</style><p>您好，<b>客户{n}</b>！</p></html>",
            message_id=f"<broadcast-1.delivery-{n}@siyu>",
        )
        for n in range(1, 4)
    ]

    async def run() -> None:
        async with SmtpSender(config) as sender:
            for one in emails:
                assert (await sender.send(one)).ok

    with sink:
        asyncio.run(run())
        assert sink.count == 3

    files = sorted(directory.glob("*.eml"))
    assert len(files) == 3
    listed = list_messages(directory, limit=2)
    assert [m["subject"] for m in listed] == ["第 3 封：双十一预售开启", "第 2 封：双十一预售开启"]
    newest = listed[0]
    assert newest["from"] == "思域演示 <demo@siyu.local>"
    assert newest["to"] == "客户3 <customer3@demo.siyu.local>"
    assert newest["preview"] == "您好，客户3！ 预售今晚八点开始。"
    assert newest["date"].endswith("+00:00")
    assert newest["id"] == files[-1].stem


def test_listing_a_mailbox_that_received_nothing_yet_is_empty(tmp_path: Path) -> None:
    assert list_messages(tmp_path / "never-created", limit=10) == []
