"""Share chains: multi-level forwards, anonymous visitors joining, spreaders, the API."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.content import share
from siyu.db.session import unit_of_work
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture
from tests.content.test_links import add_customers, browser, mint, path_of


def open_as(phone: TestClient, short: str) -> None:
    assert phone.get(path_of(short), follow_redirects=False).status_code == 302


def three_levels(engine: Engine, client: TestClient, workspace_id: int) -> dict[str, Any]:
    """A shares to B, B (anonymous until they open their own link) shares to C."""
    a, b, c = add_customers(engine, workspace_id, "张三", "李四", "王五")
    urls = mint(engine, workspace_id, [a, b], broadcast_id=9)
    a_phone, b_phone, c_phone = browser(client), browser(client), browser(client)
    open_as(a_phone, urls[a])  # A's own open
    open_as(b_phone, urls[a])  # B opens A's forward: nobody known on B's phone yet
    open_as(b_phone, urls[b])  # B opens their own link: B's phone is B now
    open_as(c_phone, urls[b])  # C (never sent anything) opens B's forward
    open_as(c_phone, urls[b])
    return {"a": a, "b": b, "c": c, "urls": urls}


def test_a_multi_level_chain_counts_downstream_reach_and_depth(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    people = three_levels(engine, client, workspace.id)
    a, b = people["a"], people["b"]

    with unit_of_work(engine, write=False) as session:
        found = share.chain(session, workspace.id, 9)
        stats = share.share_stats(session, workspace.id, 9)

    anonymous = [n for n in found.nodes if n.startswith("v:")]
    assert len(anonymous) == 1  # C is nobody known
    assert {(e.source, e.target, e.opens) for e in found.edges} == {
        (f"c:{a}", f"c:{b}", 1),  # B's anonymous open joined the chain as B
        (f"c:{b}", anonymous[0], 2),
    }
    assert found.levels == {f"c:{a}": 0, f"c:{b}": 1, anonymous[0]: 2}
    assert [(s.customer_id, s.direct_shares, s.reach, s.depth) for s in found.spreaders] == [
        (a, 1, 2, 2),
        (b, 1, 1, 1),
    ]
    assert (stats.shares, stats.share_opens, stats.visitors_reached) == (2, 3, 2)
    assert [s.customer_id for s in stats.top_spreaders] == [a, b]


def test_a_cycle_of_forwards_is_walked_once(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    a, b = add_customers(engine, workspace.id, "张三", "李四")
    urls = mint(engine, workspace.id, [a, b], broadcast_id=9)
    a_phone, b_phone = browser(client), browser(client)
    open_as(a_phone, urls[a])
    open_as(b_phone, urls[b])
    open_as(b_phone, urls[a])  # A → B
    open_as(a_phone, urls[b])  # B → A

    with unit_of_work(engine, write=False) as session:
        found = share.chain(session, workspace.id, 9)

    assert {(s.customer_id, s.reach, s.depth) for s in found.spreaders} == {(a, 1, 1), (b, 1, 1)}
    assert set(found.levels.values()) == {0}


def test_an_owner_opening_on_a_second_device_is_not_a_share_once_known(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    """The second device counts as an anonymous share until it opens another own link."""
    (a,) = add_customers(engine, workspace.id, "张三")
    first = mint(engine, workspace.id, [a], broadcast_id=9)[a]
    second = mint(engine, workspace.id, [a], broadcast_id=9, url="https://x.cn/2")[a]
    phone, laptop = browser(client), browser(client)
    open_as(phone, first)
    open_as(laptop, first)  # looks like a forward for now
    open_as(laptop, second)  # the laptop is A's: the edge A → A is dropped

    with unit_of_work(engine, write=False) as session:
        assert share.chain(session, workspace.id, 9).edges == []


def test_the_share_chain_api_returns_nodes_edges_and_spreaders(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    people = three_levels(engine, client, workspace.id)
    a, b = people["a"], people["b"]

    response = client.get(
        "/api/v1/share-chains", params={"broadcast_id": 9}, headers=workspace.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    names = {n["key"]: (n["name"], n["anonymous"], n["level"]) for n in body["nodes"]}
    assert names[f"c:{a}"] == ("张三", False, 0)
    assert names[f"c:{b}"] == ("李四", False, 1)
    assert sorted(v for k, v in names.items() if k.startswith("v:")) == [(None, True, 2)]
    assert len(body["edges"]) == 2
    assert body["truncated"] is False
    assert [(s["customer_id"], s["reach"], s["depth"]) for s in body["spreaders"]] == [
        (a, 2, 2),
        (b, 1, 1),
    ]


def test_the_chain_below_one_link(
    engine: Engine, client: TestClient, workspace: WorkspaceFixture
) -> None:
    people = three_levels(engine, client, workspace.id)
    b_code = path_of(people["urls"][people["b"]])[3:]

    response = client.get(
        "/api/v1/share-chains", params={"link_code": b_code}, headers=workspace.headers
    )

    assert response.status_code == 200
    body = response.json()
    assert body["broadcast_id"] == 9
    assert {n["key"] for n in body["nodes"] if not n["anonymous"]} == {f"c:{people['b']}"}
    assert len(body["edges"]) == 1


def test_viewers_see_names_masked(
    engine: Engine, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    workspace = make_workspace()
    viewer = make_workspace(role=Role.VIEWER)
    three_levels(engine, client, workspace.id)
    three_levels(engine, client, viewer.id)

    body = client.get(
        "/api/v1/share-chains", params={"broadcast_id": 9}, headers=viewer.headers
    ).json()

    assert sorted(n["name"] for n in body["nodes"] if n["name"]) == ["张*", "李*"]
    assert sorted(s["name"] for s in body["spreaders"]) == ["张*", "李*"]


def test_another_workspaces_chain_is_invisible(
    engine: Engine, client: TestClient, make_workspace: MakeWorkspace
) -> None:
    mine, theirs = make_workspace(), make_workspace()
    people = three_levels(engine, client, theirs.id)
    code = path_of(people["urls"][people["a"]])[3:]

    by_broadcast = client.get(
        "/api/v1/share-chains", params={"broadcast_id": 9}, headers=mine.headers
    )
    by_link = client.get("/api/v1/share-chains", params={"link_code": code}, headers=mine.headers)

    assert by_broadcast.status_code == 200
    assert by_broadcast.json()["nodes"] == []
    assert by_link.status_code == 404
    assert by_link.json()["error"]["code"] == "not_found"


def test_the_share_chain_needs_a_broadcast_or_a_link(
    client: TestClient, workspace: WorkspaceFixture
) -> None:
    response = client.get("/api/v1/share-chains", headers=workspace.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "broadcast_id"
