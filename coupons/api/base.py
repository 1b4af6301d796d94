"""The base of every API view: adrf's APIView with the request's set-up done in the event
loop instead of a worker thread.

adrf runs DRF's `initial()` (authentication, permissions, throttles) through
`sync_to_async`: one thread hop per request. Ours needs none: the key check is answered by
the in-process key cache (a hop only on a miss, to ask the database), the scope check and
content negotiation are plain Python, and there are no DRF throttles (code guessing is
throttled inside the redemption's unit of work).
"""

from __future__ import annotations

from typing import Any

from adrf.views import APIView
from django.http import HttpResponseBase
from rest_framework import exceptions
from rest_framework.request import Request

from coupons import repository
from coupons.api.auth import ApiKeyAuthentication, bearer_key
from coupons.api.http import options_response


async def authenticate(request: Request) -> None:
    """Settle `request.user` as DRF would, without a thread hop when the key is cached."""
    authenticators = request.authenticators
    if not authenticators:
        request._authenticator = None  # type: ignore[attr-defined]
        request.user, request.auth = None, None  # type: ignore[assignment]
        return
    authenticator = authenticators[0]
    assert isinstance(authenticator, ApiKeyAuthentication) and len(authenticators) == 1
    key = bearer_key(request)
    if key is None:  # no Authorization header: anonymous, refused by the permission check
        request._authenticator = None  # type: ignore[attr-defined]
        request.user, request.auth = None, None  # type: ignore[assignment]
        return
    known, client = repository.cached_api_client(key)
    if not known:
        client = await repository.in_worker(repository.api_client_for_key)(key)
    if client is None:
        # Mark the authenticator as tried so that DRF's 401 carries WWW-Authenticate.
        request._authenticator = None  # type: ignore[attr-defined]
        raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
    request._authenticator = authenticator  # type: ignore[attr-defined]
    request.user, request.auth = client, client  # type: ignore[assignment]


class ApiView(APIView):
    async def async_dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            if request.method == "OPTIONS":
                # What a route serves is public (the OpenAPI document tells anyone), and a
                # preflight carries no key: answered before authentication.
                response = options_response(self.allowed_methods)
            else:
                await authenticate(request)
                self.initial(request, *args, **kwargs)  # now pure Python: no hop
                method = request.method.lower()
                handler = getattr(self, method, None) if method in self.http_method_names else None
                if handler is None:
                    self.http_method_not_allowed(request, *args, **kwargs)  # raises 405
                response = await handler(request, *args, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response
