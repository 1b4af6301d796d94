"""One signed POST of a webhook, to exactly the address the SSRF guard checked.

The host is resolved here, each address checked (webhooks.url_guard), and the
connection made to the checked IP with the URL's host in the Host header and, for https,
in TLS's SNI and certificate check (httpx's `sni_hostname` extension): no second
resolution happens between the check and the connection, so DNS rebinding cannot slip a
private address in. Redirects are not followed (httpx's default): a 3xx is a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from webhooks.url_guard import (
    RefusedUrl,
    literal_address,
    parse_webhook_url,
    resolve_checked,
)

TIMEOUT_SECONDS = 10.0
USER_AGENT = "coupon-service-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    response_status: int | None
    duration_ms: int
    error: str = ""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Coupon-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 over "t.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def new_client() -> httpx.Client:
    # No environment proxies (a proxy would resolve the host itself, past the guard).
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False)


def post_webhook(
    client: httpx.Client,
    *,
    url: str,
    secret: str,
    body: bytes,
    event_id: str,
    event_type: str,
) -> Outcome:
    started = time.perf_counter()

    def elapsed_ms() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        target = parse_webhook_url(url, allow_http=settings.WEBHOOK_ALLOW_HTTP)
        address = resolve_checked(target, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)
    except RefusedUrl as exc:
        return Outcome(False, None, elapsed_ms(), f"refused: {exc}")
    ip_host = f"[{address}]" if address.version == 6 else str(address)
    named_host = f"[{target.host}]" if ":" in target.host else target.host
    default_port = 443 if target.scheme == "https" else 80
    host_header = named_host if target.port == default_port else f"{named_host}:{target.port}"
    extensions = {}
    if target.scheme == "https" and literal_address(target.host) is None:
        extensions["sni_hostname"] = target.host
    headers = {
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Coupon-Event-Id": event_id,
        "Coupon-Event-Type": event_type,
        "Coupon-Signature": signature(secret, int(time.time()), body),
    }
    try:
        # Streamed and closed unread: the receiver's answer body is not ours to download.
        with client.stream(
            "POST",
            f"{target.scheme}://{ip_host}:{target.port}{target.path}",
            content=body,
            headers=headers,
            extensions=extensions,
        ) as response:
            status = response.status_code
    except httpx.HTTPError as exc:
        return Outcome(False, None, elapsed_ms(), f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(200 <= status < 300, status, elapsed_ms())
