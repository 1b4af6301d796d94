"""Errors the service answers with, each with the stable `code` clients program against.

One exception handler (coupons.api.problems) turns them into RFC 9457 problem+json;
views never catch them.
"""

from __future__ import annotations


class ProblemError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    default_detail: str = "The request could not be processed."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)


class ValidationFailed(ProblemError):
    status = 400
    code = "validation_error"
    title = "Invalid request"
    default_detail = "One or more fields are invalid."

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None):
        super().__init__(detail)
        self.errors = errors


class MalformedJson(ProblemError):
    status = 400
    code = "malformed_json"
    title = "Malformed JSON"
    default_detail = "The request body is not valid JSON."


class PayloadTooLarge(ProblemError):
    status = 413
    code = "payload_too_large"
    title = "Request body too large"
    default_detail = "The request body is larger than 1 MiB."


class UnsupportedMediaType(ProblemError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"
    default_detail = "Send the body as application/json."


class NotFound(ProblemError):
    status = 404
    code = "not_found"
    title = "Not found"
    default_detail = "No such resource."


class DuplicateCode(ProblemError):
    status = 409
    code = "duplicate_code"
    title = "Duplicate code"
    default_detail = "A coupon with this code already exists (codes are unique ignoring case)."


class DatabaseUnavailable(ProblemError):
    status = 503
    code = "database_unavailable"
    title = "Database unavailable"
    default_detail = "The database cannot be reached right now; retry shortly."

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"Retry-After": "1"})
