"""Bearer API keys for DRF: who is calling, and may their key's scope do this."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from access.models import ApiKeyScope
from access.services.api_keys import KeyHolder, cached_key_holder, key_holder
from core.workers import in_worker, releasing_connections


class ApiClient(KeyHolder):
    """The key's holder as DRF's `request.user`."""

    __slots__ = ()
    is_authenticated = True

    def may_use(self, required_scope: str) -> bool:
        return self.scope == ApiKeyScope.MANAGE or self.scope == required_scope

    @classmethod
    def of(cls, holder: KeyHolder | None) -> ApiClient | None:
        if holder is None:
            return None
        return cls(key_id=holder.key_id, name=holder.name, scope=holder.scope)


def bearer_key(request: Request) -> str | None:
    """The key of an `Authorization: Bearer <key>` header; None without the header."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <key>'.")
    if len(key) > 256:
        raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
    return key


UNKNOWN_KEY = "Unknown or revoked API key."


_akey_holder = in_worker(key_holder)


class ApiKeyAuthentication(BaseAuthentication):
    """DRF's view of the bearer key: `aauthenticate` in the event loop for the API's views
    (core.api.forks.EventLoopDispatch), `authenticate` for DRF's own callers."""

    async def aauthenticate(self, request: Request) -> tuple[ApiClient, ApiClient] | None:
        key = bearer_key(request)
        if key is None:
            return None  # anonymous: refused by the permission check (or a public view)
        known, holder = cached_key_holder(key)
        if not known:
            holder = await _akey_holder(key)
        client = ApiClient.of(holder)
        if client is None:
            raise exceptions.AuthenticationFailed(UNKNOWN_KEY)
        return client, client

    def authenticate(self, request: Request) -> tuple[ApiClient, Any] | None:
        key = bearer_key(request)
        if key is None:
            return None
        # DRF runs this in a thread of its own (adrf's hop): hand the connection back at
        # once, or every request in flight holds one pooled connection until it ends.
        client = ApiClient.of(releasing_connections(key_holder)(key))
        if client is None:
            raise exceptions.AuthenticationFailed(UNKNOWN_KEY)
        return client, client

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="coupon-service"'


class HasScope(BasePermission):
    """The view's `required_scope` (or `required_scopes` by method); `manage` may do all."""

    message = "This API key's scope does not allow this request."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method == "OPTIONS":
            return True  # what a route serves is public; a CORS preflight carries no key
        client = request.user
        if not isinstance(client, ApiClient):
            return False
        scopes = getattr(view, "required_scopes", {})
        required = scopes.get(request.method, getattr(view, "required_scope", ApiKeyScope.MANAGE))
        return client.may_use(required)
