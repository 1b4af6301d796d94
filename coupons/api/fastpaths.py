"""Every place the API forks Django, DRF or adrf internals for speed, in one module, behind
one setting: API_FAST_PATHS (on by default). Off, the stock framework runs instead, and
`make test` runs the API tests that way too, so a Django upgrade is "flip and compare".
Why each fork pays for itself, with the figures: docs/performance.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import closing
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpRequest, HttpResponseBase
from django.middleware.security import SecurityMiddleware
from django.urls import set_script_prefix
from django.utils.module_loading import import_string
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.utils.serializer_helpers import BindingDict

from coupons.api.auth import UNKNOWN_KEY, ApiClient, ApiKeyAuthentication, bearer_key
from coupons.api.problems import problem_response
from coupons.db.workers import in_worker
from coupons.services.api_keys import cached_key_holder, key_holder

ENABLED: bool = settings.API_FAST_PATHS

ADMIN_PREFIXES = ("/admin",)


def is_api_path(path: str) -> bool:
    if path in ("/healthz", "/readyz", "/healthz/", "/readyz/"):
        return True
    return path.startswith("/v1/") and not path.startswith(("/v1/schema", "/v1/docs"))


# 1. The ASGI handler: API requests skip Django's per-request ThreadSensitiveContext.


class FastASGIHandler(ASGIHandler):
    """Django's handler, lighter on API paths. It leans on ASGIHandler's methods
    (read_body, create_request, run_get_response, send_response)."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            await self.handle_api(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def handle_api(self, scope: dict, receive: Any, send: Any) -> None:
        """Django's `handle()` less a class defined per request, a task group with a
        disconnect listener (a client that goes away only loses the answer; its unit of
        work runs to the end either way) and a thread hop to close the response. API
        database work releases its connections in its worker (coupons.db.workers), so
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


# 2. Middleware: security headers inline for all, the admin's chain for the admin only.

Handler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class AdminOnlyMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response: Handler) -> None:
        assert iscoroutinefunction(get_response)
        self.get_response = get_response
        # SecurityMiddleware's hooks touch only the request and response: called inline.
        self.security = SecurityMiddleware(get_response)
        admin: Handler = get_response
        # settings.ADMIN_MIDDLEWARE, on the admin's paths only: under ASGI each of their
        # sync hooks is a thread hop, and the API needs no sessions, CSRF or users.
        for path in reversed(settings.ADMIN_MIDDLEWARE):
            admin = import_string(path)(admin)
        self.admin = admin
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            request.get_host()  # DisallowedHost for a Host not in ALLOWED_HOSTS
        except DisallowedHost:
            # With the security headers every other answer carries.
            refusal = problem_response("bad_request", "Unknown host.")
            return self.security.process_response(request, refusal)
        redirect = self.security.process_request(request)
        if redirect is not None:
            return redirect
        if request.path.startswith(ADMIN_PREFIXES):
            response = await self.admin(request)
        else:
            response = await self.get_response(request)
        return self.security.process_response(request, response)  # type: ignore[arg-type]


# 3. The view's dispatch: authentication in the event loop. adrf runs DRF's `initial()`
# (authentication, permissions, throttles) through sync_to_async; the key check is
# answered by the in-process key cache (a hop only on a miss), the scope check and content
# negotiation are plain Python, and there are no DRF throttles.

_akey_holder = in_worker(key_holder)


async def client_of(key: str) -> ApiClient | None:
    """Who holds a bearer key (None: unknown or revoked), from the in-process key cache in
    the event loop, or with one hop to the database on a miss (coupons.api.lane too)."""
    known, holder = cached_key_holder(key)
    if not known:
        holder = await _akey_holder(key)
    return ApiClient.of(holder)


async def _authenticate(request: Request) -> None:
    """Settle `request.user` as DRF would, without a thread hop when the key is cached."""
    authenticators = request.authenticators or ()
    key = bearer_key(request) if authenticators else None
    if key is None:  # anonymous: refused by the permission check (or a public view)
        request._authenticator = None  # type: ignore[attr-defined]
        request.user, request.auth = None, None  # type: ignore[assignment]
        return
    assert isinstance(authenticators[0], ApiKeyAuthentication) and len(authenticators) == 1
    client = await client_of(key)
    if client is None:
        # Mark the authenticator as tried so that DRF's 401 carries WWW-Authenticate.
        request._authenticator = None  # type: ignore[attr-defined]
        raise exceptions.AuthenticationFailed(UNKNOWN_KEY)
    request._authenticator = authenticators[0]  # type: ignore[attr-defined]
    request.user, request.auth = client, client  # type: ignore[assignment]


class EventLoopDispatch:
    """adrf's `APIView.async_dispatch` with the request's set-up done in the event loop."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Straight to `async_dispatch`: adrf's `dispatch` asks Django's `view_is_async`,
        a class property that inspects every handler method on every request (about 3 % of
        a GET's event-loop time). `as_view()` already asked it once: these views are async."""
        return self.async_dispatch(request, *args, **kwargs)

    async def async_dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        view: Any = self
        view.args, view.kwargs = args, kwargs
        request = view.initialize_request(request, *args, **kwargs)
        view.request = request
        view.headers = view.default_response_headers
        try:
            await _authenticate(request)
            view.initial(request, *args, **kwargs)  # now pure Python: no hop
            method = request.method.lower()
            handler: Any = None
            if method in view.http_method_names:
                handler = getattr(view, method, None)
            if handler is None:
                view.http_method_not_allowed(request, *args, **kwargs)  # raises 405
            response = await handler(request, *args, **kwargs)
        except Exception as exc:
            response = view.handle_exception(exc)
        view.response = view.finalize_response(request, response, *args, **kwargs)
        return view.response


# 4. Input serializers whose fields are built once per class. DRF deep-copies every
# declared field for every instance. Input fields keep no per-request state, so one bound
# set serves every instance, as long as these serializers are never partial and are given
# no context (the shared fields' parent is a blank instance).


class SharedFieldsSerializer(serializers.Serializer):
    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        shared: BindingDict | None = cls.__dict__.get("_shared_fields")
        if shared is None:
            parent = cls.__new__(cls)
            serializers.Serializer.__init__(parent)
            shared = BindingDict(parent)
            for name, field in parent.get_fields().items():
                shared[name] = field
            cls._shared_fields = shared  # type: ignore[attr-defined]
        return shared


# 5. Django's request_started receivers, which have nothing to do under ASGI at request
# start (no connection yet) and as sync receivers of an async signal cost a hop each.
# At request end, close_old_connections still runs and returns any connection to the pool.


def disconnect_request_started_receivers() -> None:
    from django.core.signals import request_started
    from django.db import close_old_connections, reset_queries

    request_started.disconnect(reset_queries)
    request_started.disconnect(close_old_connections)
