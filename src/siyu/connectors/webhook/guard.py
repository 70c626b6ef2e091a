"""Where a webhook may go: http(s) only, and never into our own network (SSRF).

A workspace admin types the URL, so without this guard they could make the server call
its loopback, the cloud metadata service (169.254.169.254) or anything on the private
network. The host is resolved here, every address it resolves to must be public, and
the request is then sent to that very address (with the original Host header and TLS
server name), so a DNS answer that changes between check and connect cannot slip a
private address in. `SIYU_WEBHOOK_ALLOW_PRIVATE=true` lifts the address rule.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from siyu.exceptions import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ValidationFailed):
    """The URL is not one a webhook may be sent to."""

    code = "webhook_url_refused"

    def __init__(self, message: str) -> None:
        super().__init__("url", message)


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect: `url` names the checked address when `pinned`, else the host."""

    url: httpx.URL
    host_header: str
    server_name: str
    pinned: bool


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, CGNAT...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def parse_url(url: str) -> httpx.URL:
    """The URL if it is an absolute http(s) URL without credentials; UrlRefused if not."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        msg = f"not a valid URL: {exc}"
        raise UrlRefused(msg) from exc
    if parsed.scheme not in ("http", "https"):
        msg = "webhooks are sent to http:// or https:// URLs only"
        raise UrlRefused(msg)
    if not parsed.host:
        msg = "the URL has no host"
        raise UrlRefused(msg)
    if parsed.userinfo:
        msg = "put credentials in the secret, not in the URL"
        raise UrlRefused(msg)
    return parsed


async def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Check `url` and pick the address to send to.

    Raises UrlRefused for a URL we never send to, OSError if the host does not resolve.
    """
    parsed = parse_url(url)
    host = parsed.host
    host_header = parsed.netloc.decode("ascii")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if not allow_private and not is_public(literal):
            msg = f"{host} is a private, loopback or reserved address"
            raise UrlRefused(msg)
        return Target(parsed, host_header, host, pinned=False)
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        if not allow_private:
            msg = f"{host} is this server itself"
            raise UrlRefused(msg)
        return Target(parsed, host_header, host, pinned=False)
    if allow_private:
        return Target(parsed, host_header, host, pinned=False)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        msg = f"{host} does not resolve"
        raise OSError(msg)
    for address in addresses:
        if not is_public(address):
            msg = f"{host} resolves to {address}, a private, loopback or reserved address"
            raise UrlRefused(msg)
    return Target(parsed.copy_with(host=str(addresses[0])), host_header, host, pinned=True)


async def check_url(url: str, *, allow_private: bool) -> None:
    """For settings forms: UrlRefused (a 422 naming `url`) unless a webhook may go there."""
    try:
        await resolve_target(url, allow_private=allow_private)
    except OSError as exc:
        msg = f"the host does not resolve: {exc}"
        raise UrlRefused(msg) from exc
