"""Static files (the admin's CSS and JS, Swagger UI's) through WhiteNoise's index and
responses, in an async middleware: a thread hop per file served, none for any other
request.

WhiteNoise 6 has no ASGI or async middleware (evansd/whitenoise#359 is still open), and
its WhiteNoiseMiddleware in MIDDLEWARE would be a sync middleware: a thread hop on every
API request. So its machinery is used
directly, for /static/ paths only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import ResolverMatch
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFiles:
    def __init__(self) -> None:
        # Reads the WHITENOISE_* settings (max-age, autorefresh = DEBUG) and, with DEBUG
        # off, indexes STATIC_ROOT once, here, at startup.
        self.whitenoise = WhiteNoiseMiddleware()
        self.prefix: str = self.whitenoise.static_prefix

    async def respond(self, request: HttpRequest) -> HttpResponse | None:
        """The file at this path, or None when there is none (the caller's 404)."""
        if self.whitenoise.autorefresh:  # DEBUG: looked up on disk through the finders
            return await sync_to_async(self._find_and_read)(request)
        found = self.whitenoise.files.get(request.path_info)  # the index: no disk, no hop
        if found is None:
            return None
        return await sync_to_async(self._read)(found, request)

    def _find_and_read(self, request: HttpRequest) -> HttpResponse | None:
        found = self.whitenoise.find_file(request.path_info)
        return None if found is None else self._read(found, request)

    def _read(self, found: Any, request: HttpRequest) -> HttpResponse:
        # WhiteNoise's answer: 200, 206 for a Range, 304 for a matching ETag, 405 unless
        # GET or HEAD; the gzip copy when the client accepts it; its cache headers.
        answer = found.get_response(request.method, request.META)
        body = b""
        if answer.file is not None:
            # Read whole, in this same hop: Django's ASGI handler would read a FileResponse's
            # sync iterator through another thread hop anyway (with a warning), all of it.
            with answer.file:
                body = answer.file.read()
        response = HttpResponse(body, status=int(answer.status))
        del response["Content-Type"]
        for name, value in answer.headers:
            response[name] = value
        request.resolver_match = STATIC_MATCH
        return response


# What the metrics label a served file with: a route of its own, not "unmatched".
STATIC_MATCH = ResolverMatch(StaticFiles.respond, (), {}, route="static/")


class StaticFilesMiddleware:
    """Serves /static/ and passes every other request on untouched (async: no hop)."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]):
        self.get_response = get_response
        self.static = StaticFiles()
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(self.static.prefix):
            found = await self.static.respond(request)
            if found is not None:
                return found
        return await self.get_response(request)
