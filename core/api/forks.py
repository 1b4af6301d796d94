"""The forks of Django, DRF and adrf internals that the API runs on, each in this one module
with its reason; there is no switch and no second path: every request runs through them.
The ASGI handler's fork is config/handler.py (the server layer). Figures: docs/performance.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.views import APIView as DRFAPIView

from core.api.problems import problem_response

ADMIN_PREFIXES = ("/admin",)


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
# (authentication, permissions, throttles) through sync_to_async; here each authenticator's
# `aauthenticate` is awaited in the event loop (access.authentication answers from the
# in-process key cache, a hop only on a miss), and the scope check and content negotiation
# that `initial()` then runs are plain Python (there are no DRF throttles).


async def _authenticate(request: Request) -> None:
    """Settle `request.user` as DRF's `Request._authenticate` would, awaiting each
    authenticator's `aauthenticate` instead of calling `authenticate` in a thread."""
    authenticator: Any
    for authenticator in request.authenticators or ():
        try:
            found = await authenticator.aauthenticate(request)
        except exceptions.APIException:
            request._authenticator = None  # type: ignore[attr-defined]
            request.user, request.auth = None, None  # type: ignore[assignment]
            raise
        if found is not None:
            request._authenticator = authenticator  # type: ignore[attr-defined]
            request.user, request.auth = found
            return
    request._authenticator = None  # type: ignore[attr-defined]
    request.user, request.auth = None, None  # type: ignore[assignment]


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

    def check_permissions(self, request: Any) -> None:
        """DRF's own loop over the view's permissions, all sync here. adrf's asks
        `inspect.iscoroutinefunction` of each one on every request (~3.5 % of a create's
        event-loop time), to run an async one through `async_to_sync`, which cannot run in
        the event loop anyway."""
        DRFAPIView.check_permissions(self, request)  # type: ignore[arg-type]


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

    @property
    def _writable_fields(self) -> list[serializers.Field]:
        cls = type(self)
        writable: list[serializers.Field] | None = cls.__dict__.get("_shared_writable")
        if writable is None:
            writable = [f for f in self.fields.values() if not f.read_only]
            cls._shared_writable = writable  # type: ignore[attr-defined]
        return writable

    def run_validators(self, value: Any) -> None:
        # DRF first gathers the read-only fields' defaults for the serializer's own
        # validators, on every call; input serializers have none (their `validate` runs
        # apart), so the gathering is skipped with them.
        if self.validators:
            super().run_validators(value)


# 5. Django's request_started receivers, which have nothing to do under ASGI at request
# start (no connection yet) and as sync receivers of an async signal cost a hop each.
# At request end, close_old_connections still runs and returns any connection to the pool.


def disconnect_request_started_receivers() -> None:
    from django.core.signals import request_started
    from django.db import close_old_connections, reset_queries

    request_started.disconnect(reset_queries)
    request_started.disconnect(close_old_connections)
