"""The service's errors: each has the stable `code` clients program against, a detail and
optional data, and nothing about HTTP. The API layer maps codes to statuses, titles and
problem+json in one table (core.api.problems); the admin and commands show the detail.
"""

from __future__ import annotations

from typing import Any


class CodedError(Exception):
    code: str = "bad_request"
    default_detail: str = "The request could not be processed."

    def __init__(self, detail: str | None = None, *, data: dict[str, Any] | None = None):
        self.detail = detail or self.default_detail
        self.data = data or {}
        super().__init__(self.detail)


class DomainError(CodedError):
    """A rule of the coupon service said no."""


class ValidationFailed(DomainError):
    code = "validation_error"
    default_detail = "One or more fields are invalid."

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None):
        super().__init__(detail, data={"errors": errors})
        self.errors = errors


class NotFound(DomainError):
    code = "not_found"
    default_detail = "No such resource."


class DuplicateCode(DomainError):
    code = "duplicate_code"
    default_detail = "A coupon with this code already exists (codes are unique ignoring case)."


class TooManyRequests(DomainError):
    code = "too_many_requests"
    default_detail = "Too many lookups of unknown codes; slow down."

    def __init__(self, retry_after: int, detail: str | None = None):
        super().__init__(detail, data={"retry_after": retry_after})
        self.retry_after = retry_after


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request."


# Why a coupon cannot be redeemed: the contract's reasons, also the `reason` of a validation.


class CouponNotFound(DomainError):
    code = "coupon_not_found"
    default_detail = "No coupon has this code."


class CouponExhausted(DomainError):
    code = "coupon_exhausted"
    default_detail = "The coupon has no uses left."


class CouponInactive(DomainError):
    code = "coupon_inactive"
    default_detail = "The coupon has been deactivated."


class CouponNotStarted(DomainError):
    code = "coupon_not_started"
    default_detail = "The coupon's validity window has not started yet."


class CouponExpired(DomainError):
    code = "coupon_expired"
    default_detail = "The coupon's validity window has ended."


class CustomerLimitReached(DomainError):
    code = "customer_limit_reached"
    default_detail = "This customer already holds as many redemptions as the coupon allows."


class CustomerIdRequired(DomainError):
    code = "customer_id_required"
    default_detail = "This coupon has a per-customer limit: send customer_id."


class AlreadyReverted(DomainError):
    code = "already_reverted"
    default_detail = "This redemption was already reverted; its use was given back once."


class CountBelowUsed(DomainError):
    code = "count_below_used"
    default_detail = "init_count cannot go below the number of uses already spent."


class HasRedemptions(DomainError):
    code = "has_redemptions"
    default_detail = "A redeemed coupon keeps its history: deactivate it instead."


class DiscountLocked(DomainError):
    code = "discount_locked"
    default_detail = (
        "The coupon has been redeemed: its discount can no longer change (create a new code)."
    )


class OrderRequired(DomainError):
    code = "order_required"
    default_detail = "This coupon has a discount: send the order (amount and currency)."


class OrderRefused(DomainError):
    """The order does not qualify for the coupon's discount; `details` says by how much."""

    def __init__(self, detail: str | None = None, *, details: dict[str, Any]):
        super().__init__(detail, data={"details": details})
        self.details = details


class CurrencyMismatch(OrderRefused):
    code = "currency_mismatch"
    default_detail = "The order's currency is not the discount's."


class MinOrderAmountNotMet(OrderRefused):
    code = "min_order_amount_not_met"
    default_detail = "The order is below the discount's minimum order amount."


class LinesRequired(DomainError):
    code = "lines_required"
    default_detail = "This discount applies to some products only: send the order's lines."


class NoEligibleLines(DomainError):
    code = "no_eligible_lines"
    default_detail = "No line of the order is one this discount applies to."


class MinQuantityNotMet(OrderRefused):
    code = "min_quantity_not_met"
    default_detail = "The order has fewer eligible units than the discount needs."


class NotCombinable(DomainError):
    code = "not_combinable"
    default_detail = "These codes cannot be used together on one order."


# Why a code of a campaign cannot be redeemed, beyond its own reasons.


class CampaignInactive(DomainError):
    code = "campaign_inactive"
    default_detail = "The code's campaign has been deactivated."


class CampaignNotStarted(DomainError):
    code = "campaign_not_started"
    default_detail = "The code's campaign has not started yet."


class CampaignExpired(DomainError):
    code = "campaign_expired"
    default_detail = "The code's campaign has ended."


class CampaignExhausted(DomainError):
    code = "campaign_exhausted"
    default_detail = "The code's campaign has reached its max_redemptions."


class BudgetExhausted(DomainError):
    code = "budget_exhausted"
    default_detail = "This discount would take the campaign past its budget."


class BudgetBelowSpent(DomainError):
    code = "budget_below_spent"
    default_detail = "The budget cannot go below the discounts already given."


# Why a reservation cannot be confirmed or released.


class ReservationExpired(DomainError):
    code = "reservation_expired"
    default_detail = "The hold has expired; its use was (or is being) given back."


class ReservationReleased(DomainError):
    code = "reservation_released"
    default_detail = "The hold was released; its use was given back."


class AlreadyConfirmed(DomainError):
    code = "already_confirmed"
    default_detail = "The hold was already confirmed: it is a redemption now."


class HeldInGroup(DomainError):
    code = "held_in_group"
    default_detail = (
        "The hold belongs to a reservation group: confirm or release the group, all or none."
    )
