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
    # A replayable error is a completed answer: an Idempotency-Key keeps and replays it.
    # The others (throttling, outages) leave no trace, so a retry is served afresh.
    replayable: bool = True

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
    replayable = False

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"Retry-After": "1"})


class TooManyRequests(ProblemError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"
    default_detail = "Too many lookups of unknown codes; slow down."
    replayable = False

    def __init__(self, retry_after: int, detail: str | None = None):
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class IdempotencyKeyReused(ProblemError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"
    default_detail = "This Idempotency-Key was already used with a different request."
    replayable = False


# Why a coupon cannot be redeemed: the contract's reasons, also the `reason` of a validation.


class CouponNotFound(ProblemError):
    status = 404
    code = "coupon_not_found"
    title = "Coupon not found"
    default_detail = "No coupon has this code."


class CouponExhausted(ProblemError):
    status = 409
    code = "coupon_exhausted"
    title = "Coupon exhausted"
    default_detail = "The coupon has no uses left."


class CouponInactive(ProblemError):
    status = 409
    code = "coupon_inactive"
    title = "Coupon inactive"
    default_detail = "The coupon has been deactivated."


class CouponNotStarted(ProblemError):
    status = 409
    code = "coupon_not_started"
    title = "Coupon not started"
    default_detail = "The coupon's validity window has not started yet."


class CouponExpired(ProblemError):
    status = 409
    code = "coupon_expired"
    title = "Coupon expired"
    default_detail = "The coupon's validity window has ended."


class CustomerLimitReached(ProblemError):
    status = 409
    code = "customer_limit_reached"
    title = "Customer limit reached"
    default_detail = "This customer already holds as many redemptions as the coupon allows."


class CustomerIdRequired(ProblemError):
    status = 400
    code = "customer_id_required"
    title = "customer_id required"
    default_detail = "This coupon has a per-customer limit: send customer_id."


class AlreadyReverted(ProblemError):
    status = 409
    code = "already_reverted"
    title = "Already reverted"
    default_detail = "This redemption was already reverted; its use was given back once."


class CountBelowUsed(ProblemError):
    status = 409
    code = "count_below_used"
    title = "Count below used"
    default_detail = "init_count cannot go below the number of uses already spent."


class HasRedemptions(ProblemError):
    status = 409
    code = "has_redemptions"
    title = "Coupon has redemptions"
    default_detail = "A redeemed coupon keeps its history: deactivate it instead."
