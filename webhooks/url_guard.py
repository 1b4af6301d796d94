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


def address_refusal(address: Address) -> str | None:
    """Why a delivery may not connect to `address`, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_refusal(address.ipv4_mapped)
    for test, what in (
        ("is_loopback", "loopback"),
        ("is_unspecified", "unspecified"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, test):
            return f"{address} is a {what} address"
    # What none of the above names but is still not reachable on the internet: shared
    # address space (100.64.0.0/10), documentation ranges, 6to4 and Teredo relays, ...
    if not address.is_global:
        return f"{address} is not a public address"
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
