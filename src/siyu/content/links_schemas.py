"""Response models of tracked links and share chains."""

from datetime import datetime

from pydantic import BaseModel, Field


class ShareNodeOut(BaseModel):
    """A person in the chain: a customer, or a browser not known as anyone yet."""

    key: str = Field(description='"c:<customer id>" or "v:<visitor id>" (anonymous)')
    customer_id: int | None
    visitor_id: int | None
    anonymous: bool
    name: str | None = Field(
        description="the customer's name, masked for viewers; null for anonymous visitors "
        "and for customers outside a staff member's data scope"
    )
    level: int = Field(description="steps from the chain's roots (customers nobody shared to)")


class ShareEdgeOut(BaseModel):
    source: str = Field(description="key of the node who shared")
    target: str = Field(description="key of the node who opened the forwarded link")
    first_at: datetime
    opens: int


class SpreaderOut(BaseModel):
    key: str
    customer_id: int
    name: str | None
    direct_shares: int = Field(description="people who opened this customer's own links")
    reach: int = Field(description="everyone downstream, at any depth")
    depth: int = Field(description="the longest chain of forwards below this customer")


class ShareChainOut(BaseModel):
    broadcast_id: int | None
    link_code: str | None
    nodes: list[ShareNodeOut]
    edges: list[ShareEdgeOut]
    spreaders: list[SpreaderOut] = Field(description="key spreaders, by reach")
    truncated: bool = Field(description="the chain had more edges than are returned")
