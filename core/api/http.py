"""JSON in and out without DRF's renderer and parser: fewer thread hops, exact control."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from core.errors import CodedError, ValidationFailed
from core.shaping import rfc3339


class RequestError(CodedError):
    """The HTTP request itself is unusable (before any rule of the service is asked)."""


class MalformedJson(RequestError):
    code = "malformed_json"
    default_detail = "The request body is not valid JSON."


class PayloadTooLarge(RequestError):
    code = "payload_too_large"
    default_detail = "The request body is larger than 1 MiB."


class UnsupportedMediaType(RequestError):
    code = "unsupported_media_type"
    default_detail = "Send the body as application/json."


def json_default(value: object) -> object:
    """What `json.dumps` cannot write by itself: timestamps, UUIDs, and Decimals as JSON
    numbers (an integral one as an integer; otherwise the float whose shortest repr is the
    same decimal, exact for the at most 15 significant digits of any amount or percentage
    this API has)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def stdlib_json_bytes(data: object) -> bytes:
    return json.dumps(data, default=json_default, separators=(",", ":")).encode()


# Timestamps still go through `json_default` (rfc3339: UTC, "Z"), so that both encoders
# write the same text; orjson would keep a parsed offset ("+02:00") as it came.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def orjson_bytes(data: object) -> bytes:
    """orjson, written in Rust: the answer's bytes in one call, with UUIDs natively. It
    writes non-ASCII characters as UTF-8 where `json.dumps` escapes them (the same JSON),
    and refuses what that does not (a lone surrogate): that rare case takes the stdlib."""
    try:
        return orjson.dumps(data, default=json_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError as exc:
        if exc.__cause__ is not None:
            raise exc.__cause__ from None  # json_default's own refusal, as json.dumps gives it
        return stdlib_json_bytes(data)


# The switch (API_ORJSON, on by default): off, the standard library's encoder.
to_json_bytes = orjson_bytes if settings.API_ORJSON else stdlib_json_bytes


def json_response(
    data: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    return HttpResponse(
        to_json_bytes(data), status=status, headers=headers, content_type="application/json"
    )


def options_response(methods: list[str]) -> HttpResponse:
    """OPTIONS: what the route serves, in `Allow` and as JSON. DRF's own answer is a
    Response for renderers these views do not use (a 500 in an async view, a missing
    template on the docs page)."""
    return json_response({"methods": methods}, headers={"Allow": ", ".join(methods)})


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


# No request needs more than a few levels; past this many, a body is refused before anything
# else (hashing, serializers) recurses into it (as serde_json does, at the same depth).
MAX_JSON_DEPTH = 128


def _deeper_than(data: object, limit: int) -> bool:
    """Whether `data` nests containers more than `limit` levels deep (without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[object] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def read_json_object(request: HttpRequest | Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body counts as `{}` whatever its content type.

    Numbers with a fraction or an exponent are read as `Decimal`, never through a binary
    float: a percentage of 12.3 must be 12.3, not 12.300000000000000710542735760100185871.
    Integer-only fields refuse them as before (a Decimal is no int)."""
    django_request = request._request if isinstance(request, Request) else request
    try:
        raw = django_request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLarge() from exc
    except RawPostDataException as exc:  # pragma: no cover - a programming error
        raise MalformedJson("The body was already consumed.") from exc
    if not raw.strip():
        return {}
    if not _is_json_media_type(django_request.META.get("CONTENT_TYPE", "")):
        raise UnsupportedMediaType()
    try:
        # Decoded strictly here, not by json.loads (it lets surrogates through), so that
        # every check below sees the text whatever its encoding (UTF-8, -16 or -32).
        text = raw.decode(json.detect_encoding(raw))
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"The request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # ~1,490 levels: the parser's own stack
        raise MalformedJson(
            f"The request body is nested deeper than {MAX_JSON_DEPTH} levels."
        ) from exc
    # Counting brackets is C-speed; only a body with many of them is walked.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _deeper_than(data, MAX_JSON_DEPTH):
        raise MalformedJson(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.")
    # A lone surrogate can only come from a \uD800-\uDFFF escape; it is no Unicode text, and
    # would fail later where the body is hashed or stored (found by schemathesis).
    if "\\u" in text and re.search(r"\\u[dD][89a-fA-F]", text):
        try:
            json.dumps(data, ensure_ascii=False, default=json_default).encode()
        except UnicodeEncodeError as exc:
            raise MalformedJson("The request body holds an unpaired surrogate escape.") from exc
    if not isinstance(data, dict):
        raise ValidationFailed(
            {"non_field_errors": ["Expected a JSON object."]},
            "The request body must be a JSON object.",
        )
    return data


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Always JSON: an `Accept` header this API cannot honour is not worth a 406."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers), None) or JSONRenderer()
        return renderer, renderer.media_type
