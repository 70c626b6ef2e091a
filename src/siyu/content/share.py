"""Share chains: who forwarded a broadcast's links to whom, and the key spreaders.

Nodes are customers ("c:<id>") and anonymous visitors ("v:<visitor id>"); an edge
sharer → visitor is resolved to the visitor's customer when the visitor is known, so the
chain always shows what is known now. Edges between the same two nodes (a customer on
two devices) are added up; an edge from a customer to themself is dropped.

For each spreader: direct shares (nodes reached by their own links), downstream reach
(every node below them, at any depth) and depth (the longest shortest path down from
them). The graph may have cycles (A → B → A); every walk visits a node once.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.content.links_repository import EdgeRow, LinksRepository
from siyu.content.links_schemas import ShareChainOut, ShareEdgeOut, ShareNodeOut, SpreaderOut
from siyu.customers import service as customers_service
from siyu.exceptions import NotFound, ValidationFailed
from siyu.workspace.principal import Principal

TOP_SPREADERS = 20


@dataclass
class Edge:
    source: str
    target: str
    first_at: datetime
    opens: int


@dataclass(frozen=True)
class Spreader:
    node: str
    customer_id: int
    direct_shares: int
    reach: int
    depth: int


@dataclass(frozen=True)
class Chain:
    nodes: list[str]
    edges: list[Edge]
    # Distance from the chain's roots (customers nobody shared to): 0 for a root.
    levels: dict[str, int]
    spreaders: list[Spreader]
    truncated: bool


@dataclass(frozen=True)
class ShareStats:
    """A broadcast's sharing in numbers, for its results page."""

    # Distinct (sharer, reached person) pairs.
    shares: int
    # Opens of forwarded links, all counted.
    share_opens: int
    # Distinct people (customers or anonymous browsers) reached through forwards.
    visitors_reached: int
    top_spreaders: list[Spreader]


def customer_node(customer_id: int) -> str:
    return f"c:{customer_id}"


def visitor_node(visitor_id: int) -> str:
    return f"v:{visitor_id}"


def node_customer(node: str) -> int | None:
    kind, _, number = node.partition(":")
    return int(number) if kind == "c" else None


def node_visitor(node: str) -> int | None:
    kind, _, number = node.partition(":")
    return int(number) if kind == "v" else None


def _merged(rows: Iterable[EdgeRow]) -> list[Edge]:
    edges: dict[tuple[str, str], Edge] = {}
    for row in rows:
        source = customer_node(row.sharer_customer_id)
        target = (
            customer_node(row.visitor_customer_id)
            if row.visitor_customer_id is not None
            else visitor_node(row.visitor_id)
        )
        if source == target:
            continue
        edge = edges.get((source, target))
        if edge is None:
            edges[(source, target)] = Edge(source, target, row.first_at, row.opens)
        else:
            edge.first_at = min(edge.first_at, row.first_at)
            edge.opens += row.opens
    return list(edges.values())


def _children(edges: Iterable[Edge]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    for edge in edges:
        children.setdefault(edge.source, []).append(edge.target)
    return children


def _walk(start: str, children: dict[str, list[str]]) -> tuple[int, int]:
    """(number of nodes below `start`, greatest distance to one of them), breadth first."""
    seen = {start}
    queue = deque([(start, 0)])
    deepest = 0
    while queue:
        node, distance = queue.popleft()
        deepest = max(deepest, distance)
        for child in children.get(node, ()):
            if child not in seen:
                seen.add(child)
                queue.append((child, distance + 1))
    return len(seen) - 1, deepest


def _levels(nodes: list[str], edges: list[Edge], children: dict[str, list[str]]) -> dict[str, int]:
    reached = {edge.target for edge in edges}
    roots = [node for node in nodes if node not in reached]
    levels: dict[str, int] = {}
    queue = deque((root, 0) for root in roots)
    for root in roots:
        levels[root] = 0
    while queue:
        node, level = queue.popleft()
        for child in children.get(node, ()):
            if child not in levels:
                levels[child] = level + 1
                queue.append((child, level + 1))
    for node in nodes:  # only on a cycle with no way in: count it from itself
        levels.setdefault(node, 0)
    return levels


def spreaders(edges: list[Edge], *, limit: int | None = TOP_SPREADERS) -> list[Spreader]:
    """Customers who shared, by downstream reach, then direct shares, then id."""
    children = _children(edges)
    found = []
    for source, targets in children.items():
        customer_id = node_customer(source)
        if customer_id is None:
            continue
        reach, depth = _walk(source, children)
        found.append(Spreader(source, customer_id, len(set(targets)), reach, depth))
    found.sort(key=lambda s: (-s.reach, -s.direct_shares, s.customer_id))
    return found if limit is None else found[:limit]


def _reachable(root: str, edges: list[Edge]) -> list[Edge]:
    children = _children(edges)
    seen = {root}
    queue = deque([root])
    while queue:
        for child in children.get(queue.popleft(), ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return [edge for edge in edges if edge.source in seen]


def chain(
    session: Session,
    workspace_id: int,
    broadcast_id: int | None,
    *,
    root_customer_id: int | None = None,
) -> Chain:
    """The chain of a broadcast's links; with `root_customer_id`, only the part below it."""
    rows, truncated = LinksRepository(session, workspace_id).edges(broadcast_id)
    edges = _merged(rows)
    nodes_from: list[str] = []
    if root_customer_id is not None:
        root = customer_node(root_customer_id)
        edges = _reachable(root, edges)
        nodes_from.append(root)
    for edge in edges:
        nodes_from += (edge.source, edge.target)
    nodes = list(dict.fromkeys(nodes_from))
    children = _children(edges)
    return Chain(
        nodes=nodes,
        edges=edges,
        levels=_levels(nodes, edges, children),
        spreaders=spreaders(edges),
        truncated=truncated,
    )


def share_stats(session: Session, workspace_id: int, broadcast_id: int) -> ShareStats:
    """Shares, opens of shared links, people reached and the top spreaders of a broadcast."""
    rows, _ = LinksRepository(session, workspace_id).edges(broadcast_id)
    edges = _merged(rows)
    return ShareStats(
        shares=len(edges),
        share_opens=sum(edge.opens for edge in edges),
        visitors_reached=len({edge.target for edge in edges}),
        top_spreaders=spreaders(edges, limit=10),
    )


# -- the API's view ----------------------------------------------------------------


def _masked_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def _names(session: Session, principal: Principal, customer_ids: list[int]) -> dict[int, str]:
    """Names of the customers the principal may see; masked for viewers."""
    listed = customers_service.listed_customers(session, principal, customer_ids)
    masked = customers_service.masks_pii(principal)
    return {
        item.id: _masked_name(item.name) if masked else item.name for item in listed if item.name
    }


def share_chain_out(
    session: Session,
    principal: Principal,
    *,
    broadcast_id: int | None,
    link_code: str | None,
) -> ShareChainOut:
    """The chain of a broadcast, or the part of it below one link's customer."""
    if broadcast_id is None and not link_code:
        raise ValidationFailed("broadcast_id", "give broadcast_id or link_code")
    root = None
    if link_code:
        link = LinksRepository(session, principal.workspace_id).link(link_code)
        if link is None or (broadcast_id is not None and link.broadcast_id != broadcast_id):
            raise NotFound("link")
        broadcast_id, root = link.broadcast_id, link.customer_id
    found = chain(session, principal.workspace_id, broadcast_id, root_customer_id=root)
    customer_ids = [c for node in found.nodes if (c := node_customer(node)) is not None]
    names = _names(session, principal, customer_ids)
    return ShareChainOut(
        broadcast_id=broadcast_id,
        link_code=link_code,
        nodes=[
            ShareNodeOut(
                key=node,
                customer_id=node_customer(node),
                visitor_id=node_visitor(node),
                anonymous=node_customer(node) is None,
                name=names.get(node_customer(node) or 0),
                level=found.levels[node],
            )
            for node in found.nodes
        ],
        edges=[
            ShareEdgeOut(source=e.source, target=e.target, first_at=e.first_at, opens=e.opens)
            for e in found.edges
        ],
        spreaders=[
            SpreaderOut(
                key=s.node,
                customer_id=s.customer_id,
                name=names.get(s.customer_id),
                direct_shares=s.direct_shares,
                reach=s.reach,
                depth=s.depth,
            )
            for s in found.spreaders
        ],
        truncated=found.truncated,
    )
