"""The OpenAPI description of the hand-shaped answers: serializers used only for the
schema (responses are built by `coupons.api.shapes`), problem responses, and the bearer
scheme. Views are explicit `APIView`s, so drf-spectacular reads each method as written."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers

PROBLEM = "application/problem+json"


class ApiKeySchemeExtension(OpenApiAuthenticationExtension):
    target_class = "coupons.api.auth.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `manage.py create_api_key` (scope manage or redeem).",
        }


@extend_schema_serializer(component_name="Coupon")
class CouponOut(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    init_count = serializers.IntegerField(min_value=1)
    remaining_count = serializers.IntegerField(min_value=0)
    is_active = serializers.BooleanField()
    starts_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    per_customer_limit = serializers.IntegerField(allow_null=True, min_value=1)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="Redemption")
class RedemptionOut(serializers.Serializer):
    id = serializers.UUIDField()
    coupon_id = serializers.UUIDField()
    code = serializers.CharField()
    customer_id = serializers.CharField(allow_null=True)
    order_id = serializers.CharField(allow_null=True)
    remaining_count = serializers.IntegerField(
        min_value=0, help_text="The coupon's remaining uses right after this redemption."
    )
    redeemed_at = serializers.DateTimeField()
    reverted_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="ValidationResult")
class ValidationOut(serializers.Serializer):
    valid = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="An error code, or null if valid.")
    remaining_count = serializers.IntegerField(allow_null=True)


@extend_schema_serializer(component_name="Batch")
class BatchOut(serializers.Serializer):
    created = serializers.IntegerField()
    codes = serializers.ListField(child=serializers.CharField())


class CouponPage(serializers.Serializer):
    results = CouponOut(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class RedemptionPage(serializers.Serializer):
    results = RedemptionOut(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


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
    },
)


class Health(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField(required=False)


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


CLOSED_REQUEST_BODIES = ("PatchedCouponPatchInput",)


def close_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """PATCH refuses fields it does not know (a typo must not pass as a no-op): say so."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in CLOSED_REQUEST_BODIES:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    return result
