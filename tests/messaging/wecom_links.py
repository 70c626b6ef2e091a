"""Tracked links in WeCom messages: what a phone sees of them."""

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.config import get_settings
from siyu.content.links import track_for_recipients
from siyu.db.session import unit_of_work

SHORT = re.compile(r"https?://\S+?/l/[A-Za-z0-9_-]+")
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI "
    "Language/zh_CN"
)


def short_path(short_url: str) -> str:
    assert short_url.startswith(get_settings().base_url.rstrip("/") + "/l/"), short_url
    return "/l/" + short_url.rsplit("/l/", 1)[1]


def target(api: TestClient, short_url: str) -> str:
    """Where a link checker (not counted as an open) is sent by the short link."""
    response = TestClient(api.app).head(short_path(short_url), follow_redirects=False)
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def phone(api: TestClient) -> TestClient:
    """A phone's WeChat browser that Siyu has never seen."""
    browser = TestClient(api.app)
    browser.headers["User-Agent"] = WECHAT_UA
    return browser


def known_phone(api: TestClient, engine: Engine, workspace_id: int, customer_id: int) -> TestClient:
    """A phone whose browser Siyu knows as the customer: they opened a link of their own."""
    with unit_of_work(engine) as session:
        own = track_for_recipients(
            session,
            workspace_id,
            url="https://shop.example.cn/member",
            broadcast_id=None,
            channel="sms",
            recipients=[(customer_id, None)],
        )[customer_id]
    browser = phone(api)
    assert browser.get(short_path(own), follow_redirects=False).status_code == 302
    return browser
