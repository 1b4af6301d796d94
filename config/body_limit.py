"""An ASGI guard that refuses request bodies over a limit before Django buffers them.

Django's ASGI handler reads the whole body (spilling to disk) before any view runs, so a
limit checked in a view comes after the cost; this one answers 413 first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from config.observability import acceptable_request_id, record_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = self._declared_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                await self._refuse(scope, send)
                return
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read at most the limit before passing it on.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, replaying([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body_message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, replaying([body_message], receive), send)

    @staticmethod
    def _declared_length(scope: Scope) -> int | None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def _refuse(self, scope: Scope, send: Send) -> None:
        """413 problem+json, with what Django's middleware gives every other answer: the
        request id, the security headers, an access line and the metrics."""
        started = time.perf_counter()
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = acceptable_request_id(given.decode("latin-1"))
        # The one builder of problem bodies, by dotted path as settings name the apps' code
        # (config imports no app); looked up here, once the apps are ready.
        problem_body = import_string("core.api.problems.problem_body")
        body = problem_body(
            "payload_too_large", f"The request body is larger than {self.max_bytes} bytes."
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        record_request(
            method=scope.get("method", ""),
            path=scope.get("path", ""),
            route="unmatched",
            status=413,
            started=started,
            request_id=request_id,
        )


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """`receive`, giving `messages` first: for a body read before the app."""
    pending = list(messages)

    async def replaying_receive() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying_receive
