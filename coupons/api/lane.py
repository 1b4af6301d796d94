"""The API's busiest routes without Django's request cycle or DRF's (API_FAST_PATHS).

The lane is an ASGI app in front of Django. For the routes in `LANE_ROUTES` it authenticates
the key, checks its scope and awaits the SAME view method the DRF view runs, with the SAME
problem answers for what that method raises. What it leaves out costs about half of a GET's
CPU and does nothing for these routes (docs/performance.md): the middleware chain, the
request signals, DRF's `Request` and its content negotiation, permission and throttle
machinery, and the response's conversion in several ASGI messages. Its routes: GET of a
coupon, create, redemption, validation, hold and confirm.

Anything it does not serve exactly as Django would goes to Django, with the body replayed:
another route or method, no key, an unknown or revoked key, a scope that does not allow the
request, an unknown host, a malformed request. So a 401, a 403 or a 400 for a bad Host
still comes from the one place that makes it, and the lane only ever answers the cases
where the view itself decides. The API tests run through it (tests/api/test_lane.py shows
that they do), and once more with API_FAST_PATHS off, through Django alone.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, get_resolver
from rest_framework.exceptions import AuthenticationFailed

from config.body_limit import ASGIApp, Message, Receive, Scope, Send, replaying
from config.observability import REQUEST_ID_HEADER, record, request_id_of
from coupons.api import reservation_views, views
from coupons.api.auth import HasScope, bearer_key
from coupons.api.fastpaths import client_of
from coupons.api.problems import internal_error, problem_for_exception

# The view classes and methods the lane serves; every other request goes to Django. Their
# methods may read only what a Django HttpRequest has (`user`, `META`, the body through
# `read_json_object`, `build_absolute_uri`): no DRF `request.data` or `query_params`. The
# API tests run through the lane, so a method that breaks this fails them.
LANE_ROUTES: dict[type, frozenset[str]] = {
    views.CouponDetailView: frozenset({"GET"}),
    views.CouponCollectionView: frozenset({"POST"}),
    views.RedemptionCollectionView: frozenset({"POST"}),
    views.ValidationView: frozenset({"POST"}),
    reservation_views.ReservationCollectionView: frozenset({"POST"}),
    reservation_views.ReservationConfirmView: frozenset({"POST"}),
}
# A cheap first look, before any parsing: only these paths can resolve to a lane route.
_PREFIXES = ("/v1/coupons/", "/v1/redemptions/", "/v1/validations/", "/v1/reservations/")

logger = logging.getLogger(__name__)
_has_scope = HasScope()
# SecurityMiddleware's response hook reads only its settings and request.is_secure().
_security = SecurityMiddleware(lambda request: None)  # type: ignore[arg-type]


class ApiLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # DRF adds `Allow` to every answer of a view (finalize_response): the same list.
        self.allow = {
            cls: ", ".join(_view(cls, HttpRequest()).allowed_methods) for cls in LANE_ROUTES
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "POST")
            or not scope["path"].startswith(_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body, complete = await _read_body(receive)
        if not complete:
            return  # the client went away before sending its body: nothing to answer
        sending = _Sending(send)
        try:
            served = await self.serve(scope, body, started, sending)
        except _ToDjango:
            served = False
        except Exception:
            # A fault of the lane itself. Never handed to Django then: the unit of work may
            # have committed, and Django would run it again (a second redemption).
            logger.exception("unhandled error in the API lane")
            if not sending.started:
                await send_response(internal_error(), send)
            return
        if not served:
            message = {"type": "http.request", "body": body, "more_body": False}
            await self.app(scope, replaying([message], receive), send)

    async def serve(self, scope: Scope, body: bytes, started: float, send: Send) -> bool:
        """Answer the request, or return False (before sending anything) for Django to."""
        try:
            # The root URLconf's resolver, as `resolve()` finds it less its context lookup.
            match = get_resolver().resolve(scope["path"])
        except Resolver404:
            return False
        view_class = getattr(match.func, "view_class", None)
        if view_class not in LANE_ROUTES or scope["method"] not in LANE_ROUTES[view_class]:
            return False
        request = _django_request(scope, body)
        try:
            request.get_host()  # DisallowedHost: Django's 400
            key = bearer_key(request)  # type: ignore[arg-type]
        except (DisallowedHost, AuthenticationFailed):
            return False
        if key is None:
            return False
        try:
            client = await client_of(key)
        except Exception:
            return False  # the database: Django's problem answer (503) for it
        if client is None:
            return False  # DRF's 401, with its WWW-Authenticate
        request.user = client  # type: ignore[assignment]
        view = _view(view_class, request, *match.args, **match.kwargs)
        if not _has_scope.has_permission(request, view):  # type: ignore[arg-type]
            return False  # DRF's 403
        request.resolver_match = match
        request_id = request.META["coupons.request_id"] = request_id_of(request)
        handler = getattr(view, scope["method"].lower())
        try:
            response = await handler(request, *match.args, **match.kwargs)
        except Exception as exc:  # what the DRF view's handle_exception makes of it
            response = problem_for_exception(exc)
        response["Allow"] = self.allow[view_class]
        response[REQUEST_ID_HEADER] = request_id
        _security.process_response(request, response)
        record(request, response, started=started)
        await send_response(response, send)
        return True


def _view(view_class: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
    """The view instance as Django's `as_view()` makes it for a request."""
    view = view_class()
    view.setup(request, *args, **kwargs)
    return view


class _ToDjango(Exception):
    pass


class _Sending:
    """`send`, noting whether the answer has begun."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = True
        await self.send(message)


def _django_request(scope: Scope, body: bytes) -> ASGIRequest:
    try:
        return ASGIRequest(scope, io.BytesIO(body))
    except Exception as exc:  # undecodable path, too many fields...: Django's own answer
        raise _ToDjango from exc


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False  # http.disconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def response_headers(response: HttpResponseBase) -> Iterable[tuple[bytes, bytes]]:
    for header, value in response.items():
        yield header.encode("ascii"), value.encode("latin1")
    for cookie in response.cookies.values():
        yield b"Set-Cookie", cookie.OutputString().encode("ascii")


async def send_response(response: HttpResponseBase, send: Send) -> None:
    """A whole (not streamed) response in two ASGI messages, with its Content-Length:
    uvicorn then writes it without chunked encoding's extra writes."""
    content: bytes = response.content  # type: ignore[attr-defined]
    headers = [*response_headers(response), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})
