"""The simulated /cgi-bin/ APIs; importing this package registers them all."""

from siyu.connectors.wecom_sim.apis import (
    contact_ways,
    customers,
    directory,
    groupmsg,
    groups,
    media,
    tags,
    tokens,
    transfers,
)

__all__ = [
    "contact_ways",
    "customers",
    "directory",
    "groupmsg",
    "groups",
    "media",
    "tags",
    "tokens",
    "transfers",
]
