"""The OpenAPI description of the answers: the shapes' components (`core.api.shapes`),
problem responses, their headers, and the bearer scheme. Views are explicit `APIView`s, so
drf-spectacular reads each method as written; the hooks below add what every operation
shares."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers

from core.api.problems import PROBLEM_CONTENT_TYPE, PROBLEMS
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
        "next": serializers.URLField(
            allow_null=True,
            help_text="The next page: GET this URL as it is (same key); null on the last page.",
        ),
        "previous": serializers.URLField(
            allow_null=True,
            help_text="The page before: GET this URL as it is; null on the first page.",
        ),
        "__doc__": "One page of a list, newest first; follow `next` for more.",
        "__module__": __name__,
    }
    return type(name, (serializers.Serializer,), fields)


# The stable codes, in the order of the one table (core.api.problems).
PROBLEM_CODES: tuple[str, ...] = tuple(PROBLEMS)


# Made by type(): a Serializer has an `errors` attribute of its own.
Problem = extend_schema_serializer(component_name="Problem")(
    type(
        "Problem",
        (serializers.Serializer,),
        {
            "__doc__": "An RFC 9457 problem detail: every error answer. Program against "
            "`status` and `code`; `title` and `detail` are for people.",
            "__module__": __name__,
            "type": serializers.CharField(help_text="urn:coupon-service:problem:<code>."),
            "title": serializers.CharField(help_text="For people: the same for every such one."),
            "status": serializers.IntegerField(help_text="The HTTP status, repeated."),
            "detail": serializers.CharField(help_text="For people: what happened this time."),
            "code": serializers.ChoiceField(
                choices=PROBLEM_CODES, help_text="Stable machine-readable error code."
            ),
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
)


# What any route can answer: a Host it does not serve or an unparsable request (400), a
# method it does not serve (405), a body over 1 MiB, refused before any view (413), a bug
# (500); with a key, also 401, 403 and 503 (the key's lookup reads the database).
EVERY_ROUTE = (400, 405, 413, 500)
AUTHENTICATED = (401, 403, 503)


def problems(*statuses: int, authenticated: bool = True, **described: str) -> dict[Any, Any]:
    """Problem responses for `statuses`, plus those every route can give (EVERY_ROUTE, and
    AUTHENTICATED unless the route takes no key)."""
    texts = {
        400: "bad_request: a Host this server does not answer to, or a request it cannot parse",
        401: "unauthenticated: no, unknown or revoked key (with WWW-Authenticate: Bearer)",
        403: "permission_denied: the key's scope does not cover this route",
        404: "not_found: no such id",
        405: "method_not_allowed: the route does not serve this method (see Allow)",
        409: "a conflict (see the code)",
        413: "payload_too_large: body over 1 MiB",
        415: "unsupported_media_type: send application/json",
        422: "idempotency_key_reused: the same Idempotency-Key with another body",
        429: "too_many_requests: too many lookups of unknown codes (with Retry-After)",
        500: "internal_error: a bug on our side, logged; the request had no effect",
        503: "database_unavailable: retry after Retry-After seconds",
    }
    if 400 in statuses:  # the route reads a body or a query string
        texts[400] = "validation_error (with errors by field), malformed_json, or " + texts[400]
    texts.update({int(k[1:]): v for k, v in described.items()})
    shared = {*EVERY_ROUTE, *(AUTHENTICATED if authenticated else ())}
    return {
        (status, PROBLEM): OpenApiResponse(response=Problem, description=texts[status])
        for status in sorted({*statuses, *shared})
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


LOCATION = OpenApiParameter(
    "Location",
    {"type": "string", "format": "uri"},
    OpenApiParameter.HEADER,
    response=[201],
    required=True,
    description="The URL of what was created.",
)

_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_HEADERS_OF_STATUS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "Bearer: send `Authorization: Bearer <key>`.",
            "required": True,
            "schema": {"type": "string", "example": "Bearer"},
        }
    },
    "405": {
        "Allow": {
            "description": "The methods the route serves.",
            "required": True,
            "schema": {"type": "string", "example": "GET, POST, OPTIONS"},
        }
    },
    "429": {"Retry-After": _RETRY_AFTER},
    "503": {"Retry-After": _RETRY_AFTER},
}
# A kept answer is the effect's own: a success, or a refusal of the unit of work (a 400
# such as customer_id_required, a 404, a 409). Throttling, outages and a reused key are not
# kept (core.api.problems.Problem.replayable), and the rest come before the key is read.
_REPLAYABLE_STATUSES = frozenset({"400", "404", "409"})
_REPLAYED = {
    "description": "`true` when this is the kept answer to an earlier request with the same "
    "Idempotency-Key (no second effect); absent otherwise.",
    "required": False,
    "schema": {"type": "string", "enum": ["true"]},
}


def declare_headers(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The headers a status always carries (WWW-Authenticate, Allow, Retry-After), and
    Idempotent-Replayed on every answer an Idempotency-Key can replay."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            idempotent = any(
                p.get("in") == "header" and p.get("name") == "Idempotency-Key"
                for p in operation.get("parameters", [])
            )
            for status, response in operation.get("responses", {}).items():
                headers = dict(_HEADERS_OF_STATUS.get(status, {}))
                if idempotent and (status.startswith("2") or status in _REPLAYABLE_STATUSES):
                    headers["Idempotent-Replayed"] = _REPLAYED
                if headers:
                    response["headers"] = {**response.get("headers", {}), **headers}
    return result


def describe_successes(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A success answer without words of its own is described by what it carries (a
    generator writes this into the client's docstrings)."""
    schemas = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2") or response.get("description"):
                    continue
                for media in response.get("content", {}).values():
                    name = media.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
                    if schemas.get(name, {}).get("description"):
                        response["description"] = schemas[name]["description"]
    return result


def type_event_data(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """`Event` as a oneOf discriminated by `type`: an event `<object>.<change>` carries in
    `data` the `<Object>` component, as the API answers it after the change."""
    schemas = result.get("components", {}).get("schemas", {})
    event, types = schemas.get("Event"), schemas.get("EventTypeEnum", {}).get("enum", [])
    if event is None or not types:
        return result
    by_object: dict[str, list[str]] = {}
    for name in types:
        by_object.setdefault(name.split(".", 1)[0].title(), []).append(name)
    if not all(component in schemas for component in by_object):
        return result
    mapping = {}
    for component, names in by_object.items():
        variant = f"{component}Event"
        properties = dict(event["properties"])
        properties["type"] = {"type": "string", "enum": names, "description": "What happened."}
        properties["data"] = {
            "allOf": [{"$ref": f"#/components/schemas/{component}"}],
            "description": f"The {component.lower()} as the API returns it after the change.",
        }
        schemas[variant] = {
            **event,
            "description": f"A change to a {component.lower()}.",
            "properties": properties,
        }
        mapping.update({name: f"#/components/schemas/{variant}" for name in names})
    schemas["Event"] = {
        "description": event.get("description", ""),
        "oneOf": [{"$ref": f"#/components/schemas/{c}Event"} for c in by_object],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    return result
