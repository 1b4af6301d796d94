"""The one place where errors become RFC 9457 problem+json answers: one table from error
code to HTTP status and title, and one builder for the body."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from psycopg_pool import PoolTimeout
from rest_framework import exceptions as drf
from rest_framework.views import set_rollback

from core.errors import CodedError

logger = logging.getLogger("core.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    title: str
    # A replayable problem is a completed answer: an Idempotency-Key keeps and replays it.
    # The others (throttling, outages, a reused key) leave no trace; a retry runs afresh.
    replayable: bool = True


PROBLEMS: dict[str, Problem] = {
    # The request itself
    "bad_request": Problem(400, "Bad request"),
    "validation_error": Problem(400, "Invalid request"),
    "malformed_json": Problem(400, "Malformed JSON"),
    "customer_id_required": Problem(400, "customer_id required"),
    "order_required": Problem(400, "Order required"),
    "lines_required": Problem(400, "Lines required"),
    "unauthenticated": Problem(401, "Authentication required"),
    "permission_denied": Problem(403, "Permission denied"),
    "not_found": Problem(404, "Not found"),
    "method_not_allowed": Problem(405, "Method not allowed"),
    "not_acceptable": Problem(406, "Not acceptable"),
    "payload_too_large": Problem(413, "Request body too large"),
    "unsupported_media_type": Problem(415, "Unsupported media type"),
    "idempotency_key_reused": Problem(422, "Idempotency key reused", replayable=False),
    "too_many_requests": Problem(429, "Too many requests", replayable=False),
    # Coupons and redemptions
    "coupon_not_found": Problem(404, "Coupon not found"),
    "duplicate_code": Problem(409, "Duplicate code"),
    "coupon_exhausted": Problem(409, "Coupon exhausted"),
    "coupon_inactive": Problem(409, "Coupon inactive"),
    "coupon_not_started": Problem(409, "Coupon not started"),
    "coupon_expired": Problem(409, "Coupon expired"),
    "customer_limit_reached": Problem(409, "Customer limit reached"),
    "already_reverted": Problem(409, "Already reverted"),
    "count_below_used": Problem(409, "Count below used"),
    "has_redemptions": Problem(409, "Has redemptions"),
    "discount_locked": Problem(409, "Discount locked"),
    "currency_mismatch": Problem(409, "Currency mismatch"),
    "min_order_amount_not_met": Problem(409, "Minimum order amount not met"),
    "no_eligible_lines": Problem(409, "No eligible lines"),
    "min_quantity_not_met": Problem(409, "Minimum quantity not met"),
    "not_combinable": Problem(409, "Codes not combinable"),
    # Campaigns
    "campaign_inactive": Problem(409, "Campaign inactive"),
    "campaign_not_started": Problem(409, "Campaign not started"),
    "campaign_expired": Problem(409, "Campaign expired"),
    "campaign_exhausted": Problem(409, "Campaign exhausted"),
    "budget_exhausted": Problem(409, "Budget exhausted"),
    "budget_below_spent": Problem(409, "Budget below spent"),
    # Reservations
    "reservation_expired": Problem(409, "Reservation expired"),
    "reservation_released": Problem(409, "Reservation released"),
    "already_confirmed": Problem(409, "Already confirmed"),
    "held_in_group": Problem(409, "Held in a group"),
    # Ours
    "internal_error": Problem(500, "Internal server error"),
    "database_unavailable": Problem(503, "Database unavailable", replayable=False),
}


def problem_body(
    code: str, detail: str, *, errors: Any = None, extra: dict[str, Any] | None = None
) -> bytes:
    """The problem+json document for `code` (the one builder of problem bodies)."""
    problem = PROBLEMS[code]
    body: dict[str, Any] = {
        "type": f"urn:coupon-service:problem:{code}",
        "title": problem.title,
        "status": problem.status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra or {})
    return json.dumps(body, separators=(",", ":")).encode()


def problem_response(
    code: str,
    detail: str | None = None,
    *,
    errors: Any = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    response = HttpResponse(
        problem_body(code, detail or PROBLEMS[code].title, errors=errors, extra=extra),
        status=PROBLEMS[code].status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    response.problem_code = code  # type: ignore[attr-defined]  # for metrics and logs
    return response


def is_replayable(error: CodedError) -> bool:
    return PROBLEMS[error.code].replayable


def _coded_error_response(exc: CodedError) -> HttpResponse:
    headers = {}
    if "retry_after" in exc.data:
        headers["Retry-After"] = str(exc.data["retry_after"])
    # An order's refusal says by how much (min_order_amount_not_met: the minimum, the
    # shortfall and the currency), in the body as the validation answer has it.
    extra = {"details": exc.data["details"]} if "details" in exc.data else None
    return problem_response(
        exc.code, exc.detail, errors=exc.data.get("errors"), headers=headers, extra=extra
    )


_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.NotAuthenticated: "unauthenticated",
    drf.AuthenticationFailed: "unauthenticated",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "too_many_requests",
    drf.ParseError: "malformed_json",
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
    if isinstance(exc, CodedError):
        return _coded_error_response(exc)
    if isinstance(exc, drf.ValidationError):
        return problem_response(
            "validation_error",
            "One or more fields are invalid.",
            errors=flatten_errors(exc.detail),
        )
    if isinstance(exc, drf.APIException):
        code = next((c for kind, c in _DRF_CODES.items() if isinstance(exc, kind)), "bad_request")
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf.Throttled) and wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return problem_response(code, str(exc.detail), headers=headers)
    if isinstance(exc, Http404 | Resolver404):
        return problem_response("not_found", "No such resource.")
    if isinstance(exc, DjangoPermissionDenied):
        return problem_response("permission_denied", str(exc) or "Forbidden.")
    if isinstance(exc, RequestDataTooBig):
        return problem_response("payload_too_large", "The request body is larger than 1 MiB.")
    if isinstance(exc, SuspiciousOperation):  # as Django answers it outside DRF: a 400
        return problem_response(
            "bad_request",
            f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} query parameters."
            if isinstance(exc, TooManyFieldsSent)
            else "The request is malformed.",
        )
    if is_database_unavailable(exc):
        logger.warning("database unavailable: %s", exc)
        return problem_response(
            "database_unavailable",
            "The database cannot be reached right now; retry shortly.",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error", exc_info=exc)
    else:
        logger.exception("unhandled error", exc_info=exc)
    return internal_error()


# "cannot execute ... in a read-only transaction": a write that reached a server which is
# no longer the primary (a failover demoted it). A retry reaches the new one.
READ_ONLY_SQL_TRANSACTION = "25006"


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot take this request now (unreachable, a lost
    connection, the pool empty, or a read-only server), rather than that it went wrong."""
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return (
        isinstance(exc, DatabaseError)
        and getattr(exc.__cause__, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION
    )


def internal_error() -> HttpResponse:
    return problem_response(
        "internal_error", "Something went wrong on our side; the request had no effect."
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """DRF's EXCEPTION_HANDLER: every error of an API view, as problem+json."""
    set_rollback()
    return problem_for_exception(exc)


# Django's own error views (outside DRF): unknown routes, DisallowedHost, crashes.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, DisallowedHost):
        return problem_response("bad_request", "Unknown host.")
    return problem_response("bad_request", "The request is malformed.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response("permission_denied", "Forbidden.")


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
        "not_found", f"No route matches {request.path}.{_slash_hint(request.path)}"
    )


@csrf_exempt
def route_not_found(request: HttpRequest) -> HttpResponse:
    """The last URL pattern, so unknown routes are problem+json even with DEBUG on."""
    return page_not_found(request)


def server_error(request: HttpRequest) -> HttpResponse:
    return internal_error()
