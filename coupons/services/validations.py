"""Validations, spending nothing: one code, or several together on one order
(coupons.domain.stacking prices them), and the amounts a group's answer and each code's
part show."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from core.errors import (
    CouponNotFound,
    CustomerLimitReached,
    DomainError,
    LinesRequired,
    NotCombinable,
)
from core.workers import in_worker
from coupons.db import raw
from coupons.domain.allocation import allocations_json
from coupons.domain.carts import Priced, price_order
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Discount, Order
from coupons.domain.rules import refusal_for
from coupons.domain.stacking import Stacked, application_order, not_combinable, price_stacked
from coupons.models import Campaign
from coupons.services.campaign_redemptions import campaign_limit_refusal
from coupons.services.priced_orders import order_of
from coupons.services.spending import ExpiredHolds, expired_holds_of, live_uses_of


@dataclass(frozen=True, slots=True)
class ValidationResult:
    valid: bool
    reason: str | None
    remaining_count: int | None
    # Computed only for a valid code with a discount and an order; None otherwise.
    discount_amount: int | None = None
    amount_after_discount: int | None = None
    currency: str | None = None
    # What a refusal of the order is worth knowing (min_order_amount_not_met: the minimum,
    # the shortfall, the currency).
    details: dict[str, Any] | None = None
    # Where the discount went: per line (None for an order without lines), and off the
    # shipping (None when no amount was computed).
    allocations: list[dict[str, Any]] | None = None
    shipping_discount_amount: int | None = None
    shipping_amount_after_discount: int | None = None


def validate_code(
    *,
    code: str,
    customer_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> ValidationResult:
    """The same checks as `redeem_coupon`, spending nothing; with an order, what the
    discount would be (an order is optional here: without one, no amount is computed)."""
    now = now or timezone.now()
    given = order_of(order)
    standing = code_standing(code, customer_id=customer_id, order=given, now=now)
    if standing.refusal is not None:
        refusal = standing.refusal
        return ValidationResult(
            valid=False,
            reason=refusal.code,
            remaining_count=standing.remaining_count,
            details=refusal.data.get("details"),
        )
    discount = standing.discount
    if discount is None or given is None:
        return ValidationResult(valid=True, reason=None, remaining_count=standing.remaining_count)
    priced = price_order(discount, given)
    shipping = given.shipping_amount
    return ValidationResult(
        valid=True,
        reason=None,
        remaining_count=standing.remaining_count,
        discount_amount=priced.discount_amount,
        amount_after_discount=given.amount - priced.lines_amount,
        currency=given.currency,
        allocations=allocations_json(priced.allocations),
        shipping_discount_amount=priced.shipping_discount_amount,
        shipping_amount_after_discount=(
            None if shipping is None else shipping - priced.shipping_discount_amount
        ),
    )


@dataclass(frozen=True, slots=True)
class CodeStanding:
    """A validation's view of one code: why it would be refused (None: it would not), its
    remaining uses (None: no such code), its discount and its campaign."""

    refusal: DomainError | None
    remaining_count: int | None
    discount: Discount | None = None
    campaign_id: uuid.UUID | None = None
    code: str | None = None  # as created


def code_standing(
    code: str, *, customer_id: str | None, order: Order | None, now: datetime
) -> CodeStanding:
    """`validate_code`'s checks, spending nothing, locking nothing. LinesRequired is
    raised (a 400: the order sent cannot be priced), never returned."""
    given = order
    key = lookup_key(code)
    coupon = None if key is None else raw.one_coupon(code_key=key)
    if coupon is None:
        return CodeStanding(CouponNotFound(), None)
    campaign = None if coupon.campaign_id is None else Campaign.objects.get(pk=coupon.campaign_id)
    expired = ExpiredHolds()
    if coupon.held_count or (campaign is not None and campaign.held_count):
        # Expired holds nobody returned yet are free to the next redemption, which reclaims
        # them first. A validation spends nothing, so it counts them as returned rather
        # than returning them: no write, no lock, on a read (these rows are never saved).
        expired = expired_holds_of(
            coupon.id, campaign_id=coupon.campaign_id, customer_id=customer_id, now=now
        )
        coupon.remaining_count += expired.of_coupon
        if campaign is not None:
            campaign.held_count -= expired.of_campaign
            campaign.discount_total -= expired.campaign_discount
    refusal = refusal_for(coupon, now=now, customer_id=customer_id, order=given, campaign=campaign)
    if (
        refusal is None
        and coupon.per_customer_limit is not None
        and customer_id
        and live_uses_of(coupon.id, customer_id) - expired.customers_of_coupon
        >= coupon.per_customer_limit
    ):
        refusal = CustomerLimitReached()
    if refusal is None and campaign is not None:
        refusal = campaign_limit_refusal(
            campaign.id, limit=campaign.per_customer_limit, customer_id=customer_id,
            expired=expired.customers_of_campaign,
        )  # fmt: skip
    if isinstance(refusal, LinesRequired):
        raise refusal  # a 400 on validations too: the order sent cannot be priced
    discount = coupon.discount if campaign is None else campaign.discount
    return CodeStanding(refusal, coupon.remaining_count, discount, coupon.campaign_id, coupon.code)


def refused_code(error: DomainError, code: str) -> DomainError:
    """`error`, naming the refused code in its `details` (beside any details of its own)."""
    details = dict(error.data.get("details") or {})
    details["code"] = code
    error.data = {**error.data, "details": details}
    return error


# Validations of several codes.


@dataclass(frozen=True, slots=True)
class CodeResult:
    code: str
    valid: bool
    reason: str | None
    details: dict[str, Any] | None = None
    discount_amount: int | None = None
    shipping_discount_amount: int | None = None
    allocations: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class CodesValidation:
    valid: bool
    reason: str | None
    details: dict[str, Any] | None = None
    discount_amount: int | None = None
    amount_after_discount: int | None = None
    shipping_discount_amount: int | None = None
    shipping_amount_after_discount: int | None = None
    currency: str | None = None
    allocations: list[dict[str, Any]] | None = None
    results: list[CodeResult] = field(default_factory=list)


def validate_codes(
    *,
    codes: Sequence[str],
    customer_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> CodesValidation:
    """Each code's checks (as `validate_code`, on the order as sent), whether they
    combine, and with an order what they take together, in application order. Amounts
    are computed only when the whole answer is valid."""
    now = now or timezone.now()
    given = order_of(order)
    standings = [code_standing(c, customer_id=customer_id, order=given, now=now) for c in codes]
    discounts = [s.discount for s in standings]
    sequence = application_order(discounts)
    refused = next((i for i in sequence if standings[i].refusal is not None), None)
    clash = None
    if refused is None:
        clash = not_combinable(discounts, [s.campaign_id for s in standings])
    stacked = None
    if refused is None and clash is None and given is not None:
        stacked = price_stacked(given, discounts)
    results = []
    for position, index in enumerate(sequence):
        standing = standings[index]
        refusal = NotCombinable() if index == clash else standing.refusal
        part = None if stacked is None else stacked.parts[position]
        results.append(
            CodeResult(
                code=standing.code or codes[index],
                valid=refusal is None,
                reason=None if refusal is None else refusal.code,
                details=None if refusal is None else refusal.data.get("details"),
                **part_amounts(part, stacked),
            )
        )
    if refused is not None or clash is not None:
        first = next(r for r in results if not r.valid)
        return CodesValidation(False, first.reason, first.details, results=results)
    if stacked is None or given is None:
        return CodesValidation(True, None, results=results)
    return CodesValidation(True, None, **total_amounts(given, stacked.total), results=results)


def part_amounts(part: Priced | None, stacked: Stacked | None) -> dict[str, Any]:
    if stacked is None:
        return {}
    if part is None:  # a code without a discount
        return {"discount_amount": None, "shipping_discount_amount": None, "allocations": None}
    return {
        "discount_amount": part.discount_amount,
        "shipping_discount_amount": part.shipping_discount_amount,
        "allocations": allocations_json(part.allocations),
    }


def total_amounts(order: Order, total: Priced) -> dict[str, Any]:
    shipping = order.shipping_amount
    return {
        "discount_amount": total.discount_amount,
        "amount_after_discount": order.amount - total.lines_amount,
        "shipping_discount_amount": total.shipping_discount_amount,
        "shipping_amount_after_discount": (
            None if shipping is None else shipping - total.shipping_discount_amount
        ),
        "currency": order.currency,
        "allocations": allocations_json(total.allocations),
    }


# Redemption groups.


avalidate_codes = in_worker(validate_codes)
