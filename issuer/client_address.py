"""The client's address, as per-address limits see it: the TCP peer, or `X-Forwarded-For` when,
and only when, the peer is a configured proxy (`Settings.trusted_proxies`, default none).

Every proxy appends the address it received the request from, so the header is read from the
right: hops that are themselves trusted proxies are skipped, and the first address that is not
one is the client. Anything to its left was written by the client and is ignored. A header
from a peer that is not a trusted proxy is ignored altogether, so a caller cannot choose the
address it is counted under. The servers run without uvicorn's own proxy-header handling
(which trusts any local peer): this module is the one place that reads the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

from starlette.requests import Request
from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDED_FOR_BYTES = b"x-forwarded-for"
MAX_HOPS = 32  # a chain longer than any real proxy path: the rest is not read
UNKNOWN = "unknown"


@lru_cache(maxsize=16)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """`Settings.trusted_proxies` (already validated) as networks."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress | None, networks: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address in net for net in networks)


def resolve_client_address(
    peer: str | None, forwarded_for: Iterable[str], networks: Sequence[IPNetwork]
) -> str:
    """The client's address from the TCP peer and the `X-Forwarded-For` values (in order)."""
    if not peer:
        return UNKNOWN
    peer_address = _address(peer)
    if not _is_trusted(peer_address, networks):
        return str(peer_address) if peer_address is not None else peer
    hops = [hop for value in forwarded_for for hop in value.split(",")][-MAX_HOPS:]
    client: IPAddress | None = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # not written by a proxy we trust: stop at the last good hop
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def client_address(request: Request) -> str:
    """The address the request counts against (see the module docstring)."""
    return scope_client_address(request.scope)


def scope_client_address(scope: Scope) -> str:
    """`client_address` for ASGI middleware, from the connection scope (its app's settings)."""
    client = scope.get("client")
    peer = client[0] if client else None
    proxies: tuple[str, ...] = scope["app"].state.settings.trusted_proxies
    if not proxies:
        return resolve_client_address(peer, (), ())
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == FORWARDED_FOR_BYTES]
    return resolve_client_address(peer, values, trusted_networks(proxies))
