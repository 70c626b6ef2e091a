"""Links a staff member sends to many at once: one per (broadcast, staff, url, channel),
opened by anyone, a known customer's open theirs, never a share."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from siyu.content import staff_links
from siyu.db.session import unit_of_work
from siyu.models import ShareEdge, Staff, TrackedLink
from tests.conftest import WorkspaceFixture
from tests.content.test_links import (
    BROWSER,
    TARGET,
    add_customers,
    browser,
    link_events,
    mint,
    path_of,
    visits,
)


def add_staff(engine: Engine, workspace_id: int, *names: str) -> list[int]:
    with unit_of_work(engine) as session:
        rows = [Staff(workspace_id=workspace_id, name=name) for name in names]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def mint_for_staff(
    engine: Engine,
    workspace_id: int,
    staff_id: int,
    urls: list[str],
    *,
    broadcast_id: int = 7,
    channel: str = "wecom",
) -> dict[str, str]:
    with unit_of_work(engine) as session:
        return staff_links.track_for_staff(
            session,
            workspace_id,
            broadcast_id=broadcast_id,
            staff_id=staff_id,
            channel=channel,
            urls=urls,
        )


def test_each_staff_member_gets_one_link_per_url_and_channel_and_minting_again_finds_it(
    engine: Engine, workspace: WorkspaceFixture
) -> None:
    a, b = add_staff(engine, workspace.id, "王导购", "李导购")
    other = "https://shop.example.com/p/43"

    first = mint_for_staff(engine, workspace.id, a, [TARGET, other, TARGET])
    again = mint_for_staff(engine, workspace.id, a, [TARGET, other])
    theirs = mint_for_staff(engine, workspace.id, b, [TARGET])
    poster = mint_for_staff(engine, workspace.id, a, [TARGET], channel="poster")
    later = mint_for_staff(engine, workspace.id, a, [TARGET], broadcast_id=8)

    assert first == again
    assert set(first) == {TARGET, other}
    shorts = [first[TARGET], first[other], theirs[TARGET], poster[TARGET], later[TARGET]]
    assert len(set(shorts)) == len(shorts)
    with unit_of_work(engine, write=False) as session:
        rows = session.scalars(select(TrackedLink).order_by(TrackedLink.id)).all()
        assert len(rows) == 5
        assert {row.customer_id for row in rows} == {None}
        assert [(row.staff_id, row.channel) for row in rows][:3] == [
            (a, "wecom"),
            (a, "wecom"),
            (b, "wecom"),
        ]


def test_only_http_urls_become_staff_links(engine: Engine, workspace: WorkspaceFixture) -> None:
    (a,) = add_staff(engine, workspace.id, "王导购")

    minted = mint_for_staff(
        engine,
        workspace.id,
        a,
        ["weixin://dl/business/?t=abc", "ftp://x.cn/a", "https://x.cn/" + "a" * 2100],
    )

    assert minted == {}


def test_anyone_opening_a_staff_link_is_counted_and_a_known_customer_gets_it_on_the_timeline(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    (a,) = add_staff(engine, workspace.id, "王导购")
    (customer,) = add_customers(engine, workspace.id, "张三")
    shared = path_of(mint_for_staff(engine, workspace.id, a, [TARGET])[TARGET])
    customers_phone = browser(client)
    customers_phone.get(
        path_of(mint(engine, workspace.id, [customer], broadcast_id=None)[customer])
    )

    stranger = client.get(shared, headers=BROWSER, follow_redirects=False)
    customers_phone.get(shared, follow_redirects=False)

    assert stranger.status_code == 302
    assert stranger.headers["location"] == TARGET
    assert [(v.kind, v.customer_id) for v in visits(engine)] == [
        ("own", customer),
        ("staff", None),
        ("staff", customer),
    ]
    opened = link_events(engine, customer)
    assert [e.properties["broadcast_id"] for e in opened] == [None, 7]
    assert opened[1].properties["shared_by"] is None
    with unit_of_work(engine, write=False) as session:
        assert session.scalar(select(func.count()).select_from(ShareEdge)) == 0
        found = staff_links.clicks(session, workspace.id, 7)
    assert {(c.staff_id, c.customer_id) for c in found} == {(a, None), (a, customer)}
