"""The OpenAPI description of the answers: the shapes' components (`core.api.shapes`),
problem responses, and the bearer scheme. Views are explicit `APIView`s, so
drf-spectacular reads each method as written."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from core.api.problems import PROBLEM_CONTENT_TYPE
from core.api.shapes import DetailsSchema

PROBLEM = PROBLEM_CONTENT_TYPE


class ApiKeySchemeExtension(OpenApiAuthenticationExtension):
    target_class = "access.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `manage.py create_api_key` (scope manage or redeem).",
        }


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The OpenAPI component `name` of a page of `item`s (core.api.pagination.page_json):
    the results and the links to the next and previous pages."""
    fields = {
        "results": item(many=True),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "__module__": __name__,
    }
    return type(name, (serializers.Serializer,), fields)


Problem = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(help_text="Stable machine-readable error code."),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="Validation errors by field (400 validation_error only).",
        ),
        "details": DetailsSchema(
            required=False,
            help_text="currency_mismatch and min_order_amount_not_met: what the order lacks.",
        ),
    },
)


def problems(*statuses: int, **described: str) -> dict[Any, Any]:
    """Problem responses for `statuses`, plus those every authenticated route can give."""
    texts = {
        400: "validation_error / malformed_json",
        401: "unauthenticated: no, unknown or revoked key",
        403: "permission_denied: the key's scope does not cover this route",
        404: "not_found",
        409: "a conflict (see the code)",
        413: "payload_too_large: body over 1 MiB",
        415: "unsupported_media_type: send application/json",
        422: "idempotency_key_reused",
        429: "too_many_requests (with Retry-After)",
        503: "database_unavailable (with Retry-After)",
    }
    texts.update({int(k[1:]): v for k, v in described.items()})
    return {
        (status, PROBLEM): OpenApiResponse(response=Problem, description=texts[status])
        for status in sorted({*statuses, 401, 403, 503})
    }


BODY_PROBLEMS = (400, 413, 415)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # Printable ASCII; HTTP trims surrounding spaces, so a key neither starts nor ends with one.
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "1 to 255 printable ASCII characters. The first completed answer for a key (per API "
        "key) is replayed to every retry with the same body; another body is 422."
    ),
)

__all__ = ["extend_schema", "problems"]


def only_documented_paths(endpoints: list[Any], **kwargs: Any) -> list[Any]:
    """Drop the slash-suffixed twins of the contract's `/healthz` and `/readyz`."""
    return [e for e in endpoints if e[0] not in ("/healthz/", "/readyz/")]


def close_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Request bodies refuse fields they do not know (coupons.api.serializers.InputSerializer):
    say so."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Input"):
            schema["additionalProperties"] = False
    # A CSV upload (POST /v1/coupons/import/) is its body: without one it is refused.
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if body and "text/csv" in body.get("content", {}):
                body["required"] = True
    return result
