"""Django's ASGI handler, lighter on API paths: the one fork of it (figures in
docs/performance.md). It leans on ASGIHandler's own methods (read_body, create_request,
run_get_response, send_response)."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix


def is_api_path(path: str) -> bool:
    if path in ("/healthz", "/readyz", "/healthz/", "/readyz/"):
        return True
    return path.startswith("/v1/") and not path.startswith(("/v1/schema", "/v1/docs"))


class FastASGIHandler(ASGIHandler):
    """API requests skip Django's per-request ThreadSensitiveContext."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            await self.handle_api(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def handle_api(self, scope: dict, receive: Any, send: Any) -> None:
        """Django's `handle()` less a class defined per request, a task group with a
        disconnect listener (a client that goes away only loses the answer; its unit of
        work runs to the end either way) and a thread hop to close the response. API
        database work releases its connections in its worker (core.workers), so
        closing the response finds nothing open on this thread and runs here."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body_file)
            response = error_response if request is None else await self.run_get_response(request)
            assert response is not None
            try:
                await self.send_response(response, send)
            finally:
                response.close()
