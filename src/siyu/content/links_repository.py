"""Queries of tracked links, their visitors, visits and share edges.

Every query is filtered by the workspace, except `link_by_code`: the public short URL
names no workspace, so its code is unique across all of them and the link found there
decides the workspace of everything that follows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import among, insert_rows
from siyu.models import LinkVisit, LinkVisitor, ShareEdge, TrackedLink

# A share chain larger than this is cut (and says so); a browser cannot draw more anyway.
MAX_EDGES = 20_000


@dataclass(frozen=True)
class EdgeRow:
    """A share edge with its visitor resolved: `visitor_customer_id` None is anonymous."""

    sharer_customer_id: int
    visitor_id: int
    visitor_customer_id: int | None
    first_at: datetime
    opens: int


def link_by_code(session: Session, code: str) -> TrackedLink | None:
    return session.scalar(select(TrackedLink).where(TrackedLink.code == code))


class LinksRepository:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def _insert(self, table: Any) -> postgresql.Insert | sqlite.Insert:
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # -- links ------------------------------------------------------------------

    def insert_links(self, rows: Sequence[dict[str, Any]]) -> int:
        """One statement; rows whose dedupe key (or, rarely, code) exists are skipped.
        Returns how many were stored."""
        table: Table = TrackedLink.__table__  # type: ignore[assignment]
        return insert_rows(self.session, table, rows, ignore_conflicts=True)

    def codes_by_dedupe_key(self, keys: Sequence[str]) -> dict[str, tuple[int | None, str]]:
        """dedupe key -> (customer_id, code) of the links stored under those keys."""
        rows = self.session.execute(
            select(TrackedLink.dedupe_key, TrackedLink.customer_id, TrackedLink.code).where(
                TrackedLink.workspace_id == self.workspace_id,
                among(self.session, TrackedLink.dedupe_key, list(keys)),
            )
        )
        return {key: (customer_id, code) for key, customer_id, code in rows}

    def link(self, code: str) -> TrackedLink | None:
        return self.session.scalar(
            select(TrackedLink).where(
                TrackedLink.workspace_id == self.workspace_id, TrackedLink.code == code
            )
        )

    # -- visitors ---------------------------------------------------------------

    def visitor(self, visitor_key: str, *, now: datetime) -> LinkVisitor:
        """The visitor with this cookie key, created on its first open in this workspace."""
        self.session.execute(
            self._insert(LinkVisitor.__table__)
            .values(workspace_id=self.workspace_id, visitor_key=visitor_key, first_seen_at=now)
            .on_conflict_do_nothing()
        )
        visitor = self.session.scalar(
            select(LinkVisitor).where(
                LinkVisitor.workspace_id == self.workspace_id,
                LinkVisitor.visitor_key == visitor_key,
            )
        )
        assert visitor is not None
        return visitor

    def bind_visitor(self, visitor: LinkVisitor, customer_id: int, *, now: datetime) -> None:
        self.session.execute(
            update(LinkVisitor)
            .where(
                LinkVisitor.workspace_id == self.workspace_id,
                LinkVisitor.id == visitor.id,
                LinkVisitor.customer_id.is_(None),
            )
            .values(customer_id=customer_id, bound_at=now)
        )
        self.session.refresh(visitor)

    # -- visits -----------------------------------------------------------------

    def opened_by_owner(self, link_id: int) -> bool:
        return bool(
            self.session.scalar(
                select(
                    exists().where(
                        LinkVisit.workspace_id == self.workspace_id,
                        LinkVisit.link_id == link_id,
                        LinkVisit.kind == "own",
                    )
                )
            )
        )

    def add_visit(
        self,
        link: TrackedLink,
        visitor: LinkVisitor,
        *,
        kind: str,
        now: datetime,
        user_agent: str | None,
    ) -> LinkVisit:
        visit = LinkVisit(
            workspace_id=self.workspace_id,
            link_id=link.id,
            visitor_id=visitor.id,
            customer_id=visitor.customer_id,
            kind=kind,
            visited_at=now,
            user_agent=user_agent[:300] if user_agent else None,
        )
        self.session.add(visit)
        self.session.flush()
        return visit

    def record_edge(self, link: TrackedLink, visitor: LinkVisitor, *, now: datetime) -> None:
        """Count a share open: a new edge, or one more open on the existing one."""
        table = ShareEdge.__table__
        stmt = self._insert(table).values(
            workspace_id=self.workspace_id,
            link_id=link.id,
            broadcast_id=link.broadcast_id,
            sharer_customer_id=link.customer_id,
            visitor_id=visitor.id,
            first_at=now,
            last_at=now,
            opens=1,
        )
        self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["workspace_id", "link_id", "visitor_id"],
                set_={"last_at": now, "opens": table.c.opens + 1},
            )
        )

    def first_own_opens(self, broadcast_id: int) -> dict[int, datetime]:
        rows = self.session.execute(
            select(TrackedLink.customer_id, func.min(LinkVisit.visited_at))
            .join(LinkVisit, LinkVisit.link_id == TrackedLink.id)
            .where(
                TrackedLink.workspace_id == self.workspace_id,
                TrackedLink.broadcast_id == broadcast_id,
                LinkVisit.workspace_id == self.workspace_id,
                LinkVisit.kind == "own",
            )
            .group_by(TrackedLink.customer_id)
        )
        first: dict[int, datetime] = {}
        for customer_id, at in rows:
            if customer_id is not None:
                first[customer_id] = at
        return first

    def first_staff_link_opens(
        self, broadcast_id: int
    ) -> list[tuple[int | None, int, int | None, datetime]]:
        """(staff id, visitor id, the visitor's customer now, first open) per staff member and
        browser, of the broadcast's links sent with no customer."""
        rows = self.session.execute(
            select(
                TrackedLink.staff_id,
                LinkVisit.visitor_id,
                LinkVisitor.customer_id,
                func.min(LinkVisit.visited_at),
            )
            .join(LinkVisit, LinkVisit.link_id == TrackedLink.id)
            .join(LinkVisitor, LinkVisitor.id == LinkVisit.visitor_id)
            .where(
                TrackedLink.workspace_id == self.workspace_id,
                TrackedLink.broadcast_id == broadcast_id,
                TrackedLink.customer_id.is_(None),
                LinkVisit.workspace_id == self.workspace_id,
                LinkVisitor.workspace_id == self.workspace_id,
            )
            .group_by(TrackedLink.staff_id, LinkVisit.visitor_id, LinkVisitor.customer_id)
        )
        return [
            (staff_id, visitor_id, customer_id, at)
            for staff_id, visitor_id, customer_id, at in rows
        ]

    def clickers_by_channel(self, broadcast_id: int) -> dict[str, int]:
        """People who opened the broadcast's links, per link channel: customers who opened
        their own link, and for links sent with no customer, the customers their browsers
        are known as now plus the browsers known as nobody."""
        own = self.session.execute(
            select(TrackedLink.channel, func.count(TrackedLink.customer_id.distinct()))
            .join(LinkVisit, LinkVisit.link_id == TrackedLink.id)
            .where(
                TrackedLink.workspace_id == self.workspace_id,
                TrackedLink.broadcast_id == broadcast_id,
                LinkVisit.workspace_id == self.workspace_id,
                LinkVisit.kind == "own",
            )
            .group_by(TrackedLink.channel)
        )
        anonymous = case((LinkVisitor.customer_id.is_(None), LinkVisit.visitor_id))
        staff = self.session.execute(
            select(
                TrackedLink.channel,
                func.count(LinkVisitor.customer_id.distinct()),
                func.count(anonymous.distinct()),
            )
            .join(LinkVisit, LinkVisit.link_id == TrackedLink.id)
            .join(LinkVisitor, LinkVisitor.id == LinkVisit.visitor_id)
            .where(
                TrackedLink.workspace_id == self.workspace_id,
                TrackedLink.broadcast_id == broadcast_id,
                TrackedLink.customer_id.is_(None),
                LinkVisit.workspace_id == self.workspace_id,
                LinkVisitor.workspace_id == self.workspace_id,
            )
            .group_by(TrackedLink.channel)
        )
        found: dict[str, int] = {}
        for channel, customers in own:
            found[channel] = found.get(channel, 0) + customers
        for channel, customers, browsers in staff:
            found[channel] = found.get(channel, 0) + customers + browsers
        return found

    # -- share edges ------------------------------------------------------------

    def edges(self, broadcast_id: int | None) -> tuple[list[EdgeRow], bool]:
        """The broadcast's share edges (those of links sent outside any broadcast when
        None), visitors resolved; True when there were more than MAX_EDGES."""
        condition = (
            ShareEdge.broadcast_id.is_(None)
            if broadcast_id is None
            else ShareEdge.broadcast_id == broadcast_id
        )
        rows = self.session.execute(
            select(
                ShareEdge.sharer_customer_id,
                ShareEdge.visitor_id,
                LinkVisitor.customer_id,
                ShareEdge.first_at,
                ShareEdge.opens,
            )
            .join(LinkVisitor, LinkVisitor.id == ShareEdge.visitor_id)
            .where(
                ShareEdge.workspace_id == self.workspace_id,
                LinkVisitor.workspace_id == self.workspace_id,
                condition,
            )
            .order_by(ShareEdge.first_at, ShareEdge.id)
            .limit(MAX_EDGES + 1)
        ).all()
        edges = [EdgeRow(*row) for row in rows[:MAX_EDGES]]
        return edges, len(rows) > MAX_EDGES
