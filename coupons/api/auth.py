"""Bearer API keys for DRF: who is calling, and may their key's scope do this."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from coupons import repository
from coupons.models import ApiKeyScope


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


class ApiKeyAuthentication(BaseAuthentication):
    """DRF's view of the bearer key (the API views settle it in `coupons.api.base`)."""

    def authenticate(self, request: Request) -> tuple[repository.ApiClient, Any] | None:
        key = bearer_key(request)
        if key is None:
            return None
        client = repository.api_client_for_key(key)
        if client is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return client, client

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="coupon-service"'


class HasScope(BasePermission):
    """The view's `required_scope` (or `required_scopes` by method); `manage` may do all."""

    message = "This API key's scope does not allow this request."

    def has_permission(self, request: Request, view: Any) -> bool:
        client = request.user
        if not isinstance(client, repository.ApiClient):
            return False
        scopes = getattr(view, "required_scopes", {})
        required = scopes.get(request.method, getattr(view, "required_scope", ApiKeyScope.MANAGE))
        return client.may_use(required)
