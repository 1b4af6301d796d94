"""The SSRF guard of webhooks: which URLs an endpoint may have, and which addresses a
delivery may connect to. Checked at creation and again at delivery, against the address
the host resolves to then; the delivery connects to exactly that address
(webhooks.services.transport), so a name that resolves elsewhere a second later
(DNS rebinding) cannot slip past.

Relaxed only by WEBHOOK_ALLOW_HTTP (plain http) and WEBHOOK_ALLOW_PRIVATE_HOSTS
(loopback, private, link-local... addresses), both off by default."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
type Resolver = Callable[..., list[tuple[Any, ...]]]


class RefusedUrl(ValueError):
    """A webhook URL the guard refuses; the message says why, for the client."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # as written, without brackets; lower case
    port: int
    path: str  # path and query, at least "/"


def parse_webhook_url(url: str, *, allow_http: bool) -> Target:
    """The URL's parts, or RefusedUrl: http(s) only (https unless `allow_http`), a host,
    no user or password (a URL carrying credentials would leak them in logs and lists)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedUrl(f"Not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedUrl("Must be an https URL.")
    if scheme == "http" and not allow_http:
        raise RefusedUrl("Must be https (plain http is allowed only with WEBHOOK_ALLOW_HTTP=1).")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RefusedUrl("Must not contain a user name or password.")
    if not parts.hostname:
        raise RefusedUrl("Must name a host.")
    if parts.fragment:
        raise RefusedUrl("Must not have a fragment (#...).")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise RefusedUrl("Must not contain spaces or control characters.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        scheme=scheme,
        host=parts.hostname.lower(),
        port=port or (443 if scheme == "https" else 80),
        path=path,
    )


@dataclass(frozen=True, slots=True)
class SpecialBlock:
    """A row of IANA's special-purpose registries: its block, name, RFCs, and the
    registry's "Globally Reachable" (None where IANA says N/A, which is refused too)."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    name: str
    rfc: str
    reachable: bool | None
    # The IPv4 addresses an IPv6 address of this block carries (6to4, Teredo, NAT64,
    # mapped): such an address reaches them, so each must be one we would connect to.
    embeds: Callable[[ipaddress.IPv6Address], tuple[ipaddress.IPv4Address, ...]] | None = None


def _block(
    network: str,
    name: str,
    rfc: str,
    reachable: bool | None,
    embeds: Callable[[ipaddress.IPv6Address], tuple[ipaddress.IPv4Address, ...]] | None = None,
) -> SpecialBlock:
    return SpecialBlock(ipaddress.ip_network(network), name, rfc, reachable, embeds)


def _last_32_bits(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)


def _sixtofour(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    return (ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF),)  # bits 16..47


def _teredo(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    # The server is bits 32..63; the client is the last 32 bits, inverted (RFC 4380 4).
    server = ipaddress.IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
    client = ipaddress.IPv4Address(~int(address) & 0xFFFFFFFF)
    return (server, client)


# The IANA IPv4 Special-Purpose Address Registry
# (https://www.iana.org/assignments/iana-ipv4-special-registry, RFC 6890, RFC 8190) and
# IANA IPv6 Special-Purpose Address Registry
# (https://www.iana.org/assignments/iana-ipv6-special-registry, as updated 2024-10-22),
# row by row, plus the blocks of the IANA IPv4 and IPv6 Address Space registries that are
# not unicast on the internet (multicast, site-local, IPv4-compatible). The most specific
# block containing an address decides, as the registries' footnote says ("unless allowed
# by a more specific allocation"). Python 3.12.1's ipaddress.is_global misses 6to4,
# fec0::/10 and 3fff::/20, hence this table; keep it in step with the registries.
SPECIAL_BLOCKS: tuple[SpecialBlock, ...] = (
    # IPv4 Special-Purpose Address Registry
    _block("0.0.0.0/8", '"this network"', "RFC 791", False),
    _block("0.0.0.0/32", '"this host on this network"', "RFC 1122", False),
    _block("10.0.0.0/8", "private-use", "RFC 1918", False),
    _block("100.64.0.0/10", "shared address space", "RFC 6598", False),
    _block("127.0.0.0/8", "loopback", "RFC 1122", False),
    _block("169.254.0.0/16", "link-local", "RFC 3927", False),
    _block("172.16.0.0/12", "private-use", "RFC 1918", False),
    _block("192.0.0.0/24", "IETF protocol assignments", "RFC 6890", False),
    _block("192.0.0.0/29", "IPv4 service continuity prefix", "RFC 7335", False),
    _block("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", False),
    _block("192.0.0.9/32", "Port Control Protocol anycast", "RFC 7723", True),
    _block("192.0.0.10/32", "TURN anycast", "RFC 8155", True),
    _block("192.0.0.170/31", "NAT64/DNS64 discovery", "RFC 7050, RFC 8880", False),
    _block("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737", False),
    _block("192.31.196.0/24", "AS112-v4", "RFC 7535", True),
    _block("192.52.193.0/24", "AMT", "RFC 7450", True),
    _block("192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526", None),
    _block("192.88.99.2/32", "6a44-relay anycast", "RFC 6751", False),
    _block("192.168.0.0/16", "private-use", "RFC 1918", False),
    _block("192.175.48.0/24", "AS112 direct delegation", "RFC 7534", True),
    _block("198.18.0.0/15", "benchmarking", "RFC 2544", False),
    _block("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737", False),
    _block("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737", False),
    _block("240.0.0.0/4", "reserved", "RFC 1112", False),
    _block("255.255.255.255/32", "limited broadcast", "RFC 919, RFC 8190", False),
    # IPv4 Address Space registry: multicast is no unicast destination.
    _block("224.0.0.0/4", "multicast", "RFC 5771", False),
    # IPv6 Special-Purpose Address Registry
    _block("::1/128", "loopback", "RFC 4291", False),
    _block("::/128", "unspecified", "RFC 4291", False),
    _block("::ffff:0:0/96", "IPv4-mapped", "RFC 4291", None, _last_32_bits),
    _block("64:ff9b::/96", "NAT64 well-known prefix", "RFC 6052", True, _last_32_bits),
    _block("64:ff9b:1::/48", "local-use NAT64", "RFC 8215", False),
    _block("100::/64", "discard-only", "RFC 6666", False),
    _block("2001::/23", "IETF protocol assignments", "RFC 2928", False),
    _block("2001::/32", "Teredo", "RFC 4380, RFC 8190", None, _teredo),
    _block("2001:1::1/128", "Port Control Protocol anycast", "RFC 7723", True),
    _block("2001:1::2/128", "TURN anycast", "RFC 8155", True),
    _block("2001:2::/48", "benchmarking", "RFC 5180", False),
    _block("2001:3::/32", "AMT", "RFC 7450", True),
    _block("2001:4:112::/48", "AS112-v6", "RFC 7535", True),
    _block("2001:10::/28", "deprecated ORCHID", "RFC 4843", None),
    _block("2001:20::/28", "ORCHIDv2", "RFC 7343", True),
    _block("2001:30::/28", "DRIP entity tags", "RFC 9374", True),
    _block("2001:db8::/32", "documentation", "RFC 3849", False),
    _block("2002::/16", "6to4", "RFC 3056", None, _sixtofour),
    _block("2620:4f:8000::/48", "AS112 direct delegation", "RFC 7534", True),
    _block("3fff::/20", "documentation", "RFC 9637", False),
    _block("5f00::/16", "segment routing (SRv6) SIDs", "RFC 9602", False),
    _block("fc00::/7", "unique-local", "RFC 4193, RFC 8190", False),
    _block("fe80::/10", "link-local", "RFC 4291", False),
    # IPv6 Address Space registry: deprecated or not unicast on the internet.
    _block("::/96", "IPv4-compatible (deprecated)", "RFC 4291", False),
    _block("fec0::/10", "site-local (deprecated)", "RFC 3879", False),
    _block("ff00::/8", "multicast", "RFC 4291", False),
)
# IANA assigns unicast addresses from 2000::/3 only (IPv6 Address Space registry); any
# other IPv6 address no block above allows is reserved by the IETF.
IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_MOST_SPECIFIC_FIRST = sorted(SPECIAL_BLOCKS, key=lambda block: -block.network.prefixlen)


def special_block(address: Address) -> SpecialBlock | None:
    """The most specific special-purpose block holding `address`, if any."""
    for block in _MOST_SPECIFIC_FIRST:
        if address.version == block.network.version and address in block.network:
            return block
    return None


def address_refusal(address: Address) -> str | None:
    """Why a delivery may not connect to `address`, or None for a public address."""
    block = special_block(address)
    if (
        block is not None
        and block.embeds is not None
        and isinstance(address, ipaddress.IPv6Address)
    ):
        for embedded in block.embeds(address):
            why = address_refusal(embedded)
            if why is not None:
                return f"{address} is {block.name} ({block.rfc}), and {why}"
        return None
    if block is not None and not block.reachable:
        return f"{address} is {block.name} ({block.network}, {block.rfc}), not public"
    if block is None and address.version == 6 and address not in IPV6_GLOBAL_UNICAST:
        return f"{address} is outside the global unicast space (2000::/3)"
    return None


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve_checked(
    target: Target, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo
) -> Address:
    """The address to connect to for `target`: its host's first address, all of which
    must be public unless `allow_private` (one private address among public ones is
    refused: which one a client picks is not ours to guess). RefusedUrl otherwise."""
    literal = literal_address(target.host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = resolver(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise RefusedUrl(f"The host {target.host} cannot be resolved.") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
        if not addresses:
            raise RefusedUrl(f"The host {target.host} cannot be resolved.")
    if not allow_private:
        for address in addresses:
            why = address_refusal(address)
            if why is not None:
                raise RefusedUrl(
                    f"The host {target.host} resolves to a non-public address ({why}); "
                    "allowed only with WEBHOOK_ALLOW_PRIVATE_HOSTS=1."
                )
    return addresses[0]
