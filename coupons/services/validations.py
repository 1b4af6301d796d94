"""Several codes validated together on one order (coupons.domain.stacking prices them), and
the amounts a group's answer and each code's part show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from core.errors import (
    DomainError,
    NotCombinable,
)
from core.workers import in_worker
from coupons.domain.allocation import allocations_json
from coupons.domain.carts import Priced
from coupons.domain.discounts import Order
from coupons.domain.stacking import Stacked, application_order, not_combinable, price_stacked
from coupons.services.priced_orders import order_of
from coupons.services.redemptions import (
    code_standing,
)


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
