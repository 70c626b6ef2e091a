"""Email opens: the pixel each message carries, counted once per delivery; clicks imply opens."""

import re
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.content import opens
from siyu.db.session import unit_of_work
from siyu.models import Customer, Delivery, Event
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.messaging.conftest import SmtpSink

RunJobs = Callable[[], int]
MAIL_CLIENT = {
    "User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko)"
}
PIXEL = re.compile(r'<img src="https?://[^/"]+(/o/[A-Za-z0-9_-]+\.gif)" width="1" height="1"')
LINK = re.compile(r'href="https?://[^/"]+(/l/[A-Za-z0-9_-]+)"')
HTML = '<html><body><p>亲爱的{客户昵称}：</p><a href="https://shop.example.cn/d12">领取</a></body></html>'


@pytest.fixture
def sent(
    api: TestClient, workspace: WorkspaceFixture, engine: Engine, smtp_sink: SmtpSink
) -> Callable[[], dict[str, Any]]:
    """Sends an email broadcast to 王芳 and 李娜; returns the broadcast."""
    with unit_of_work(engine) as session:
        session.add_all(
            [
                Customer(workspace_id=workspace.id, name="王芳", email="wangfang@example.cn"),
                Customer(workspace_id=workspace.id, name="李娜", email="lina@example.cn"),
            ]
        )
    segment = api.post(
        "/api/v1/segments",
        json={
            "name": "邮件会员",
            "rule": {"all": [{"type": "profile", "field": "email", "op": "is_set"}]},
        },
    ).json()
    account = api.put(
        "/api/v1/messaging/channels/email",
        json={
            "config": {
                "host": smtp_sink.host,
                "port": smtp_sink.port,
                "security": "none",
                "from_address": "crm@huaxizi-demo.cn",
            },
            "secret": "",
        },
    )
    assert account.status_code == 200, account.text

    def send() -> dict[str, Any]:
        broadcast = api.post(
            "/api/v1/broadcasts",
            json={
                "name": "双十二",
                "channel": "email",
                "segment_id": segment["id"],
                "content": {
                    "subject": "双十二",
                    "html": HTML,
                    "text": "领取 https://shop.example.cn/d12",
                },
            },
        ).json()
        assert api.post(f"/api/v1/broadcasts/{broadcast['id']}/send").status_code == 200
        return broadcast  # type: ignore[no-any-return]

    return send


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def pixel_path(message: EmailMessage) -> str:
    found = PIXEL.search(html_of(message))
    assert found is not None, html_of(message)
    return found.group(1)


def opened(api: TestClient, broadcast_id: int) -> int:
    results = api.get(f"/api/v1/broadcasts/{broadcast_id}/results")
    assert results.status_code == 200, results.text
    return int(results.json()["counts"]["opened"])


def open_events(engine: Engine) -> list[Event]:
    with unit_of_work(engine, write=False) as session:
        return list(session.scalars(select(Event).where(Event.event_type == "email_opened")))


def fetch(client: TestClient, path: str, headers: dict[str, str] = MAIL_CLIENT) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store, private"
    assert response.content == opens.PIXEL_GIF


def test_opening_an_email_counts_once_and_lands_on_the_timeline(
    api: TestClient,
    client: TestClient,
    sent: Callable[[], dict[str, Any]],
    smtp_sink: SmtpSink,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    broadcast = sent()
    run_jobs()
    wang = smtp_sink.inbox.to("wangfang@example.cn")[0]
    html = html_of(wang)
    assert html.index('width="1" height="1"') < html.index("</body>")
    assert opened(api, broadcast["id"]) == 0

    fetch(client, pixel_path(wang))
    fetch(client, pixel_path(wang))  # opened again: still one open

    assert opened(api, broadcast["id"]) == 1
    with unit_of_work(engine, write=False) as session:
        rows = session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast["id"]))
        opened_at = {d.address: d.opened_at for d in rows}
    assert opened_at["wangfang@example.cn"] is not None
    assert opened_at["lina@example.cn"] is None
    events = open_events(engine)
    assert len(events) == 1
    assert events[0].properties["via"] == "pixel"
    assert events[0].properties["broadcast_id"] == broadcast["id"]


def test_each_message_has_a_pixel_of_its_own_that_names_no_delivery(
    sent: Callable[[], dict[str, Any]], smtp_sink: SmtpSink, run_jobs: RunJobs, engine: Engine
) -> None:
    sent()
    run_jobs()
    paths = {pixel_path(m) for m in smtp_sink.inbox.messages}
    assert len(paths) == 2
    with unit_of_work(engine, write=False) as session:
        ids = {str(i) for i in session.scalars(select(Delivery.id))}
    for path in paths:
        token = path.removeprefix("/o/").removesuffix(".gif")
        assert not any(re.search(rf"(?<![0-9]){i}(?![0-9])", token) for i in ids)


def test_forged_tokens_and_bots_get_the_image_but_count_nothing(
    api: TestClient,
    client: TestClient,
    sent: Callable[[], dict[str, Any]],
    smtp_sink: SmtpSink,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    broadcast = sent()
    run_jobs()
    path = pixel_path(smtp_sink.inbox.to("wangfang@example.cn")[0])
    token = path.removeprefix("/o/").removesuffix(".gif")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    fetch(client, f"/o/{tampered}.gif")
    fetch(client, "/o/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.gif")
    fetch(client, f"/o/{'x' * 500}.gif")
    fetch(client, path, headers={"User-Agent": "curl/8.4.0"})
    fetch(client, path, headers={**MAIL_CLIENT, "Sec-Purpose": "prefetch"})
    assert client.head(path, headers=MAIL_CLIENT).status_code == 200

    assert opened(api, broadcast["id"]) == 0
    assert open_events(engine) == []


def test_a_pixel_made_for_another_workspace_opens_nothing_here(
    api: TestClient,
    client: TestClient,
    sent: Callable[[], dict[str, Any]],
    run_jobs: RunJobs,
    engine: Engine,
    settings: Settings,
    make_workspace: MakeWorkspace,
) -> None:
    broadcast = sent()
    run_jobs()
    other = make_workspace()
    with unit_of_work(engine, write=False) as session:
        delivery_id = session.scalars(select(Delivery.id)).first()
    assert delivery_id is not None
    # a genuine token, but of the other workspace: it must not reach this one's delivery
    url = opens.PixelUrls(settings).url(other.id, delivery_id)

    fetch(client, url.removeprefix(settings.base_url.rstrip("/")))

    assert opened(api, broadcast["id"]) == 0


def test_clicking_a_link_of_the_email_opens_it(
    api: TestClient,
    client: TestClient,
    sent: Callable[[], dict[str, Any]],
    smtp_sink: SmtpSink,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    broadcast = sent()
    run_jobs()
    wang = smtp_sink.inbox.to("wangfang@example.cn")[0]
    link = LINK.search(html_of(wang))
    assert link is not None

    browser = TestClient(client.app)
    assert (
        browser.get(link.group(1), headers=MAIL_CLIENT, follow_redirects=False).status_code == 302
    )
    fetch(client, pixel_path(wang))  # the pixel after the click adds nothing

    results = api.get(f"/api/v1/broadcasts/{broadcast['id']}/results").json()
    assert results["counts"]["opened"] == 1
    assert results["counts"]["clicked"] == 1
    assert [e.properties["via"] for e in open_events(engine)] == ["click"]


def test_a_workspace_can_turn_the_pixel_off(
    api: TestClient, sent: Callable[[], dict[str, Any]], smtp_sink: SmtpSink, run_jobs: RunJobs
) -> None:
    rules = api.put("/api/v1/messaging/rules", json={"email_open_tracking": False})
    assert rules.status_code == 200, rules.text
    assert rules.json()["email_open_tracking"] is False
    sent()
    run_jobs()

    for message in smtp_sink.inbox.messages:
        assert "/o/" not in html_of(message)
        assert "/l/" in html_of(message)  # links are still tracked
