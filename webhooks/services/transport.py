"""One signed POST of a webhook, to exactly the address the SSRF guard checked, within ONE
deadline for the whole attempt; and the Sender that makes several at once (one endpoint's
in order, one after another; different endpoints' side by side).

The host is resolved here, each address checked (webhooks.url_guard), and the
connection made to the checked IP with the URL's host in the Host header and, for https,
in TLS's SNI and certificate check (httpx's `sni_hostname` extension): no second
resolution happens between the check and the connection, so DNS rebinding cannot slip a
private address in. Redirects are not followed (httpx's default): a 3xx is a failure.

httpx's timeouts bound each socket operation, not the request: a receiver that drips its
answer a byte at a time never trips them. So the attempt (resolution, connection, TLS,
request, status line and headers) runs as a coroutine under `asyncio.timeout`, which
cancels it wherever it is at the deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from webhooks.url_guard import (
    RefusedUrl,
    literal_address,
    parse_webhook_url,
    resolve_checked,
)

# The whole attempt, from resolving the host to the answer's headers (the contract: "a
# 2xx within 10 seconds delivers it").
TIMEOUT_SECONDS = 10.0
USER_AGENT = "coupon-service-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    response_status: int | None
    duration_ms: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class Post:
    """What one webhook POST sends, and where."""

    url: str
    secret: str
    body: bytes
    event_id: str
    event_type: str


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Coupon-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 over "t.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def new_client(*, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    # No environment proxies (a proxy would resolve the host itself, past the guard).
    return httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False, verify=verify
    )


async def apost_webhook(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    body: bytes,
    event_id: str,
    event_type: str,
    deadline: float = TIMEOUT_SECONDS,
    resolver: concurrent.futures.Executor | None = None,
) -> Outcome:
    """POST one webhook; its outcome once answered, refused or failed, and at the latest
    `deadline` seconds after the call (then a failure with no response status)."""
    started = time.perf_counter()

    def elapsed_ms() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        async with asyncio.timeout(deadline):
            return await _post(
                client, url=url, secret=secret, body=body, event_id=event_id,
                event_type=event_type, resolver=resolver, elapsed_ms=elapsed_ms,
            )  # fmt: skip
    except TimeoutError:
        return Outcome(False, None, elapsed_ms(), f"timed out: no answer within {deadline:g} s")


async def _post(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    body: bytes,
    event_id: str,
    event_type: str,
    resolver: concurrent.futures.Executor | None,
    elapsed_ms: Callable[[], int],
) -> Outcome:
    try:
        target = parse_webhook_url(url, allow_http=settings.WEBHOOK_ALLOW_HTTP)
        # getaddrinfo blocks and cannot be cancelled: it runs in a thread, and the
        # deadline stops waiting for it.
        address = await asyncio.get_running_loop().run_in_executor(
            resolver,
            lambda: resolve_checked(target, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS),
        )
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
        async with client.stream(
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


class Sender:
    """Sends webhooks concurrently, from one thread that does not wait for them: each
    `send_in_order` returns a future of its outcomes at once, and the POSTs run on an event
    loop in a thread of the Sender's own, each within its deadline. One client (its connection
    pool) per host name: connections are made to the checked IP, so a pooled one verified
    for one name must not carry another name's requests."""

    def __init__(
        self, *, deadline: float = TIMEOUT_SECONDS, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.deadline = deadline
        self.verify = verify
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="webhook-sender", daemon=True
        )
        # Resolutions that outlive their deadline are left to finish here, not waited for.
        self._resolver = concurrent.futures.ThreadPoolExecutor(8, "webhook-resolver")
        self._clients: dict[str, httpx.AsyncClient] = {}

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(self.deadline)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.deadline)
        self._loop.close()
        self._resolver.shutdown(wait=False, cancel_futures=True)

    def send_in_order(
        self, posts: Sequence[Post], *, go_on: Callable[[Outcome], bool]
    ) -> concurrent.futures.Future[list[Outcome]]:
        """POST `posts` one after another (the next only once the previous has ended), as
        long as `go_on(outcome)` says so; a future of the outcomes, in order, of those sent.
        `go_on` is called after each attempt, the last one included, in the Sender's
        thread."""
        return asyncio.run_coroutine_threadsafe(self._send_in_order(posts, go_on), self._loop)

    async def _send_in_order(
        self, posts: Sequence[Post], go_on: Callable[[Outcome], bool]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for post in posts:
            outcomes.append(await self._send(post))
            if not go_on(outcomes[-1]):
                break
        return outcomes

    async def _send(self, post: Post) -> Outcome:
        host = (urlsplit(post.url).hostname or "").lower()
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = new_client(verify=self.verify)
        return await apost_webhook(
            client, url=post.url, secret=post.secret, body=post.body, event_id=post.event_id,
            event_type=post.event_type, deadline=self.deadline, resolver=self._resolver,
        )  # fmt: skip

    async def _close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
