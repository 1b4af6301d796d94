"""The one place where exceptions become RFC 9457 problem+json answers."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.views import set_rollback

from coupons.api.http import problem_response
from coupons.errors import DatabaseUnavailable, ProblemError, ValidationFailed

logger = logging.getLogger("coupons.errors")

try:  # psycopg's pool raises its own error when no connection comes within the timeout.
    from psycopg_pool import PoolTimeout
except ImportError:  # pragma: no cover - psycopg is a dependency
    PoolTimeout = OperationalError  # type: ignore[assignment,misc]

_HTTP_ERRORS: dict[type[drf.APIException], tuple[str, str]] = {
    drf.NotAuthenticated: ("unauthenticated", "Authentication required"),
    drf.AuthenticationFailed: ("unauthenticated", "Authentication failed"),
    drf.PermissionDenied: ("permission_denied", "Permission denied"),
    drf.NotFound: ("not_found", "Not found"),
    drf.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    drf.NotAcceptable: ("not_acceptable", "Not acceptable"),
    drf.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    drf.Throttled: ("too_many_requests", "Too many requests"),
    drf.ParseError: ("malformed_json", "Malformed JSON"),
}


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail as the contract's `{"field": ["message", ...]}`."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for field, messages in detail.items():
            for sub_field, sub_messages in flatten_errors(messages).items():
                key = field if sub_field == "non_field_errors" else f"{field}.{sub_field}"
                flat.setdefault(key, []).extend(sub_messages)
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {"non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            for key, messages in flatten_errors(item).items():
                name = str(index) if key == "non_field_errors" else f"{index}.{key}"
                flat.setdefault(name, []).extend(messages)
        return flat
    return {"non_field_errors": [str(detail)]}


def problem_for_exception(exc: BaseException) -> HttpResponse:
    if isinstance(exc, ValidationFailed):
        return problem_response(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            headers=exc.headers,
        )
    if isinstance(exc, ProblemError):
        return problem_response(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            headers=exc.headers,
        )
    if isinstance(exc, drf.ValidationError):
        return problem_response(
            status=400,
            code="validation_error",
            title="Invalid request",
            detail="One or more fields are invalid.",
            errors=flatten_errors(exc.detail),
        )
    if isinstance(exc, drf.APIException):
        code, title = next(
            (names for kind, names in _HTTP_ERRORS.items() if isinstance(exc, kind)),
            ("error", "Error"),
        )
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf.Throttled) and wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return problem_response(
            status=exc.status_code, code=code, title=title, detail=str(exc.detail), headers=headers
        )
    if isinstance(exc, Http404 | Resolver404):
        return problem_response(
            status=404, code="not_found", title="Not found", detail="No such resource."
        )
    if isinstance(exc, DjangoPermissionDenied):
        return problem_response(
            status=403, code="permission_denied", title="Permission denied", detail=str(exc)
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status=413,
            code="payload_too_large",
            title="Request body too large",
            detail="The request body is larger than 1 MiB.",
        )
    if isinstance(exc, SuspiciousOperation):  # as Django answers it outside DRF: a 400
        return problem_response(
            status=400,
            code="bad_request",
            title="Bad request",
            detail=(
                f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} query parameters."
                if isinstance(exc, TooManyFieldsSent)
                else "The request is malformed."
            ),
        )
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout) and not isinstance(
        exc, IntegrityError
    ):
        logger.warning("database unavailable: %s", exc)
        return problem_for_exception(DatabaseUnavailable())
    if isinstance(exc, DatabaseError):
        logger.exception("database error", exc_info=exc)
    else:
        logger.exception("unhandled error", exc_info=exc)
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="Something went wrong on our side; the request had no effect.",
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """DRF's EXCEPTION_HANDLER: every error of an API view, as problem+json."""
    set_rollback()
    return problem_for_exception(exc)


# Django's own error views (outside DRF): unknown routes, DisallowedHost, crashes.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(
        status=400, code="bad_request", title="Bad request", detail="The request is malformed."
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(
        status=403, code="permission_denied", title="Permission denied", detail="Forbidden."
    )


def _slash_hint(path: str) -> str:
    if path.endswith("/"):
        return ""
    try:
        match = resolve(path + "/")
    except Resolver404:
        return ""
    if match.func is route_not_found:
        return ""
    return f" Every path ends with a slash: did you mean {path}/ ?"


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(
        status=404,
        code="not_found",
        title="Not found",
        detail=f"No route matches {request.path}.{_slash_hint(request.path)}",
    )


@csrf_exempt
def route_not_found(request: HttpRequest) -> HttpResponse:
    """The last URL pattern, so unknown routes are problem+json even with DEBUG on."""
    return page_not_found(request)


def server_error(request: HttpRequest) -> HttpResponse:
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="Something went wrong on our side; the request had no effect.",
    )
