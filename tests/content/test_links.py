"""Tracked links: minting, opening, who opened it, bots, the timeline and the limits."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from siyu.app import create_app
from siyu.config import Settings
from siyu.content import links
from siyu.content.links_repository import LinksRepository
from siyu.db.session import unit_of_work
from siyu.exceptions import ValidationFailed
from siyu.models import Customer, Event, EventType, LinkVisit, LinkVisitor, ShareEdge, TrackedLink
from tests.conftest import WorkspaceFixture

TARGET = "https://shop.example.com/p/42?from=siyu"
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI "
    "Language/zh_CN"
)
BROWSER = {"User-Agent": WECHAT_UA}


def add_customers(engine: Engine, workspace_id: int, *names: str) -> list[int]:
    with unit_of_work(engine) as session:
        rows = [Customer(workspace_id=workspace_id, name=name) for name in names]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def mint(
    engine: Engine,
    workspace_id: int,
    customers: list[int],
    *,
    broadcast_id: int | None = 7,
    url: str = TARGET,
) -> dict[int, str]:
    with unit_of_work(engine) as session:
        return links.track_for_recipients(
            session,
            workspace_id,
            url=url,
            broadcast_id=broadcast_id,
            channel="wecom",
            recipients=[(c, None) for c in customers],
        )


def path_of(short: str) -> str:
    return "/l/" + short.rsplit("/l/", 1)[1]


def browser(app_client: TestClient) -> TestClient:
    """A fresh browser (own cookie jar) on the same app."""
    fresh = TestClient(app_client.app)
    fresh.headers.update(BROWSER)
    return fresh


def visits(engine: Engine) -> list[LinkVisit]:
    with unit_of_work(engine, write=False) as session:
        return list(session.scalars(select(LinkVisit).order_by(LinkVisit.id)))


def link_events(engine: Engine, customer_id: int) -> list[Event]:
    with unit_of_work(engine, write=False) as session:
        return list(
            session.scalars(
                select(Event)
                .where(Event.customer_id == customer_id, Event.event_type == "link_opened")
                .order_by(Event.id)
            )
        )


# -- minting -------------------------------------------------------------------------


def test_short_url_is_built_from_the_base_url() -> None:
    settings = Settings(base_url="https://scrm.example.com/")
    assert links.short_url(settings, "abcdEFGH12_") == "https://scrm.example.com/l/abcdEFGH12_"


def test_each_recipient_gets_an_unguessable_code_of_their_own(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    customers = add_customers(engine, workspace.id, "张三", "李四")
    urls = mint(engine, workspace.id, customers)
    assert set(urls) == set(customers)
    codes = {path_of(u)[3:] for u in urls.values()}
    assert len(codes) == 2
    assert all(len(code) >= 8 and links.CODE_PATTERN.fullmatch(code) for code in codes)


def test_track_for_recipients_is_idempotent_with_a_constant_number_of_statements(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    few = add_customers(engine, workspace.id, *(f"客户{i}" for i in range(50)))
    many = add_customers(engine, workspace.id, *(f"客户{i}" for i in range(5000)))
    mint(engine, workspace.id, few[:1], broadcast_id=0)  # registers the event type

    with counting(engine) as few_count:
        mint(engine, workspace.id, few, broadcast_id=1)
    with counting(engine) as first_count:
        first = mint(engine, workspace.id, many, broadcast_id=2)
    with counting(engine) as second_count:
        second = mint(engine, workspace.id, many, broadcast_id=2)

    assert first == second  # a resumed send finds the same links
    assert len(first) == 5000
    assert len(set(first.values())) == 5000
    assert first_count[0] == few_count[0]  # the same statements for 50 or 5,000
    assert second_count[0] <= first_count[0] + 1  # a resumed send reads the codes it finds
    with unit_of_work(engine, write=False) as session:
        stored = session.scalar(
            select(func.count()).select_from(TrackedLink).where(TrackedLink.broadcast_id == 2)
        )
    assert stored == 5000


@contextmanager
def counting(engine: Engine) -> Iterator[list[int]]:
    count = [0]

    def count_statement(*_args: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)


def test_the_same_url_in_another_broadcast_gets_a_new_code(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    (customer,) = add_customers(engine, workspace.id, "张三")
    first = mint(engine, workspace.id, [customer], broadcast_id=1)
    other = mint(engine, workspace.id, [customer], broadcast_id=2)
    outside = mint(engine, workspace.id, [customer], broadcast_id=None)
    assert len({first[customer], other[customer], outside[customer]}) == 3
    assert mint(engine, workspace.id, [customer], broadcast_id=None) == outside


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.cn/a", "https://x.cn/a b"])
def test_only_http_urls_can_be_tracked(
    engine: Engine, workspace: WorkspaceFixture, url: str
) -> None:
    (customer,) = add_customers(engine, workspace.id, "张三")
    with pytest.raises(ValidationFailed) as raised:
        mint(engine, workspace.id, [customer], url=url)
    assert raised.value.field == "url"


def test_find_links_and_rewrite_links_in_message_text() -> None:
    text = (
        "双十一活动 https://shop.example.com/p/42?a=1&b=2。详情见(https://x.cn/about)，"
        "再看 http://x.cn/about, 还有 https://shop.example.com/p/42?a=1&b=2 !"
    )
    found = links.find_links(text)
    assert found == [
        "https://shop.example.com/p/42?a=1&b=2",
        "https://x.cn/about",
        "http://x.cn/about",
    ]
    rewritten = links.rewrite_links(
        text, {"https://shop.example.com/p/42?a=1&b=2": "S1", "https://x.cn/about": "S2"}
    )
    assert rewritten == "双十一活动 S1。详情见(S2)，再看 http://x.cn/about, 还有 S1 !"
    assert links.find_links("https://en.wikipedia.org/wiki/Foo_(bar).") == [
        "https://en.wikipedia.org/wiki/Foo_(bar)"
    ]


# -- opening -------------------------------------------------------------------------


def test_opening_redirects_records_the_visit_and_puts_it_on_the_timeline(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    (customer,) = add_customers(engine, workspace.id, "张三")
    short = mint(engine, workspace.id, [customer])[customer]

    response = client.get(path_of(short), headers=BROWSER, follow_redirects=False)

    assert response.status_code == 302
    assert response.headers["location"] == TARGET
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert "siyu_visitor=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=31536000" in cookie
    (visit,) = visits(engine)
    assert (visit.kind, visit.customer_id) == ("own", customer)
    (opened,) = link_events(engine, customer)
    assert opened.properties == {
        "url": TARGET,
        "link_code": path_of(short)[3:],
        "broadcast_id": 7,
        "channel": "wecom",
        "shared_by": None,
    }
    with unit_of_work(engine, write=False) as session:
        first = links.first_clicks(session, workspace.id, 7)
        event_type = session.scalar(select(EventType).where(EventType.name == "link_opened"))
    assert first == {customer: visit.visited_at}
    assert event_type is not None
    assert event_type.properties_schema == links.LINK_OPENED_SCHEMA

    timeline = client.get(f"/api/v1/customers/{customer}/timeline", headers=workspace.headers)
    assert timeline.status_code == 200
    assert "link_opened" in timeline.text


def test_a_second_open_by_the_same_browser_is_another_own_open(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    (customer,) = add_customers(engine, workspace.id, "张三")
    path = path_of(mint(engine, workspace.id, [customer])[customer])
    client.headers.update(BROWSER)
    client.get(path, follow_redirects=False)
    client.get(path, follow_redirects=False)

    assert [v.kind for v in visits(engine)] == ["own", "own"]
    assert len(link_events(engine, customer)) == 2
    with unit_of_work(engine, write=False) as session:
        assert session.scalar(select(func.count()).select_from(LinkVisitor)) == 1
        assert session.scalar(select(func.count()).select_from(ShareEdge)) == 0


def test_an_open_by_someone_else_is_a_share_not_the_customers_open(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    (owner,) = add_customers(engine, workspace.id, "张三")
    path = path_of(mint(engine, workspace.id, [owner])[owner])
    browser(client).get(path, follow_redirects=False)  # the owner
    friend = browser(client)
    assert friend.get(path, follow_redirects=False).status_code == 302
    friend.get(path, follow_redirects=False)

    assert [v.kind for v in visits(engine)] == ["own", "shared", "shared"]
    with unit_of_work(engine, write=False) as session:
        (edge,) = session.scalars(select(ShareEdge))
        assert (edge.sharer_customer_id, edge.opens, edge.broadcast_id) == (owner, 2, 7)
        assert links.first_clicks(session, workspace.id, 7).keys() == {owner}
    assert len(link_events(engine, owner)) == 1  # the friend is nobody known yet


def test_a_known_customer_opening_a_forwarded_link_gets_it_on_their_timeline(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    a, b = add_customers(engine, workspace.id, "张三", "李四")
    urls = mint(engine, workspace.id, [a, b])
    browser(client).get(path_of(urls[a]), follow_redirects=False)
    b_phone = browser(client)
    b_phone.get(path_of(urls[b]), follow_redirects=False)  # B is known on this phone now

    b_phone.get(path_of(urls[a]), follow_redirects=False)

    opened = link_events(engine, b)
    assert [e.properties["shared_by"] for e in opened] == [None, a]
    with unit_of_work(engine, write=False) as session:
        assert links.first_clicks(session, workspace.id, 7) == {
            a: visits(engine)[0].visited_at,
            b: visits(engine)[1].visited_at,
        }


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("HEAD", BROWSER),
        ("GET", {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}),
        ("GET", {"User-Agent": "facebookexternalhit/1.1"}),
        ("GET", {"User-Agent": "python-requests/2.32"}),
        ("GET", {"User-Agent": ""}),
        (
            "GET",
            {
                "User-Agent": "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534.24 "
                "(KHTML, like Gecko) Chrome/11.0.696.71 Safari/534.24 MicroMessenger"
            },
        ),
        ("GET", {**BROWSER, "Sec-Purpose": "prefetch;prerender"}),
        ("GET", {**BROWSER, "Purpose": "prefetch"}),
    ],
)
def test_bot_and_prefetch_requests_redirect_but_are_not_counted(
    engine: Engine,
    client: TestClient,
    workspace: WorkspaceFixture,
    method: str,
    headers: dict[str, str],
) -> None:
    (customer,) = add_customers(engine, workspace.id, "张三")
    path = path_of(mint(engine, workspace.id, [customer])[customer])

    response = client.request(method, path, headers=headers, follow_redirects=False)

    assert response.status_code == 302
    assert response.headers["location"] == TARGET
    assert "set-cookie" not in response.headers
    assert visits(engine) == []
    assert link_events(engine, customer) == []
    # The customer's real open later is still their first, own open.
    client.get(path, headers=BROWSER, follow_redirects=False)
    assert [v.kind for v in visits(engine)] == ["own"]


@pytest.mark.parametrize("code", ["doesnotexist1", "short", "bad-code!!"])
def test_an_unknown_code_answers_a_friendly_page(client: TestClient, code: str) -> None:
    response = client.get(f"/l/{code}", headers=BROWSER, follow_redirects=False)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "链接不存在或已失效" in response.text


def test_the_page_speaks_english_to_an_english_browser(client: TestClient) -> None:
    response = client.get("/l/doesnotexist1", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "This link does not exist" in response.text


def test_short_links_are_rate_limited_per_client(
    engine: Engine, settings: Settings, workspace: WorkspaceFixture
) -> None:
    (customer,) = add_customers(engine, workspace.id, "张三")
    path = path_of(mint(engine, workspace.id, [customer])[customer])
    limited = settings.model_copy(update={"public_requests_per_minute": 3})
    with TestClient(create_app(limited, engine=engine, run_worker=False)) as client:
        answers = [
            client.get(path, headers=BROWSER, follow_redirects=False).status_code for _ in range(4)
        ]
        refused = client.get("/l/doesnotexist1", headers=BROWSER)
    assert answers == [302, 302, 302, 429]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "访问太频繁" in refused.text
    assert len(visits(engine)) == 3


def test_links_are_found_by_code_in_their_own_workspace_only(
    engine: Engine, db: Session, make_workspace: Any
) -> None:
    a, b = make_workspace(), make_workspace()
    (customer,) = add_customers(engine, a.id, "张三")
    code = path_of(mint(engine, a.id, [customer])[customer])[3:]
    assert LinksRepository(db, a.id).link(code) is not None
    assert LinksRepository(db, b.id).link(code) is None
