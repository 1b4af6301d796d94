"""Middleware that costs the API no thread hops: request ids, the access log and metrics
for every request, security headers, static files for /static/, and the admin's own
middleware for the admin.

Django's stock middleware runs its sync hooks through `sync_to_async` under ASGI: a thread
hop per hook, about a dozen per request with the admin's set. The API needs none of
sessions, CSRF, users or messages, so those run only for the admin;
the security headers are plain Python and are applied inline for every request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string

from config.observability import REQUEST_ID_HEADER, record, request_id_of
from config.static_files import StaticFiles
from coupons.api.http import problem_response

ADMIN_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ADMIN_PREFIXES = ("/admin",)

Handler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class SiteMiddleware:
    """Security headers for all; the admin's middleware chain for the admin only."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response: Handler) -> None:
        assert iscoroutinefunction(get_response)
        self.get_response = get_response
        # SecurityMiddleware's hooks touch only the request and response: called inline.
        self.security = SecurityMiddleware(get_response)
        admin: Handler = get_response
        for path in reversed(ADMIN_MIDDLEWARE):
            admin = import_string(path)(admin)
        self.admin = admin
        # The admin's and Swagger UI's files (SERVE_STATIC=0 when a CDN or proxy serves them).
        self.static = StaticFiles() if settings.SERVE_STATIC else None
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = request.META["coupons.request_id"] = request_id_of(request)
        response = await self._respond(request)
        response[REQUEST_ID_HEADER] = request_id
        record(request, response, started=started)
        return response

    async def _respond(self, request: HttpRequest) -> HttpResponseBase:
        try:
            request.get_host()  # DisallowedHost for a Host not in ALLOWED_HOSTS
        except DisallowedHost:
            return problem_response(
                status=400, code="bad_request", title="Bad request", detail="Unknown host."
            )
        redirect = self.security.process_request(request)
        if redirect is not None:
            return redirect
        if self.static is not None and request.path_info.startswith(self.static.prefix):
            found = await self.static.respond(request)
            if found is not None:
                return self.security.process_response(request, found)
        if request.path.startswith(ADMIN_PREFIXES):
            response = await self.admin(request)
        else:
            response = await self.get_response(request)
        return self.security.process_response(request, response)  # type: ignore[arg-type]
