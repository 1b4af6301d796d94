"""Redemptions: spend a use, check one would be spent, give it back, read the trail."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from coupons.db import raw
from coupons.db.workers import in_worker
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import DISCOUNT_FIELDS, Order, discount_for, discount_from_columns
from coupons.domain.rules import order_refusal_for, refusal_for
from coupons.errors import (
    AlreadyReverted,
    CouponExhausted,
    CouponNotFound,
    CustomerIdRequired,
    CustomerLimitReached,
    DomainError,
    NotFound,
)
from coupons.models import Campaign, Coupon, Redemption
from coupons.services.campaign_redemptions import (
    campaign_limit_refusal,
    give_back_campaign_use,
    take_campaign_use,
    take_customer_slot,
)
from coupons.services.pages import Cursor, Page, keyset_page

# The discount's columns as raw.SPEND_ONE_USE returns them, after the use's own.
_DISCOUNT_COLUMNS = [f"discount_{name}" for name in DISCOUNT_FIELDS]


@dataclass(frozen=True, slots=True)
class RedemptionRecord:
    id: uuid.UUID
    coupon_id: uuid.UUID
    code: str
    customer_id: str | None
    order_id: str | None
    remaining_count: int
    redeemed_at: datetime
    reverted_at: datetime | None
    # The order as given (both None without one) and the discount it took (None for a
    # coupon without a discount); kept on revert.
    order_amount: int | None = None
    currency: str | None = None
    discount_amount: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


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


def _record(redemption: Redemption, code: str) -> RedemptionRecord:
    return RedemptionRecord(
        id=redemption.id,
        coupon_id=redemption.coupon_id,
        code=code,
        customer_id=redemption.customer_id,
        order_id=redemption.order_id,
        remaining_count=redemption.remaining_after,
        redeemed_at=redemption.redeemed_at,
        reverted_at=redemption.reverted_at,
        order_amount=redemption.order_amount,
        currency=redemption.currency,
        discount_amount=redemption.discount_amount,
        metadata=redemption.metadata,
    )


def _order(order: Order | Mapping[str, Any] | None) -> Order | None:
    """An order as the API's input gives it (`{"amount", "currency"}`), or as the domain's."""
    if order is None or isinstance(order, Order):
        return order
    return Order(amount=order["amount"], currency=order["currency"])


def _live_redemptions_of(coupon_id: uuid.UUID, customer_id: str) -> int:
    return Redemption.objects.filter(
        coupon_id=coupon_id, customer_id=customer_id, reverted_at__isnull=True
    ).count()


def _not_found(code: str) -> CouponNotFound:
    return CouponNotFound(f"No coupon has the code {code!r}.")


def redeem_coupon(
    *,
    code: str,
    customer_id: str | None = None,
    order_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> RedemptionRecord:
    """Spend one use of the coupon with `code` (any letter case) and record who spent it,
    on which order, and the discount that order took.

    Never oversold by construction: one conditional UPDATE decides, in the database, whether
    a use is left (and whether the order fits the coupon's discount), and the redemption row
    is written in the same transaction. The CHECK constraint `remaining_count >= 0` backs it.
    """
    now = now or timezone.now()
    given = _order(order)
    metadata = metadata or {}
    key = lookup_key(code)
    if key is None:
        raise _not_found(code)
    if raw.is_postgres():
        redemption_id = uuid.uuid4()
        spent = raw.spend_and_record(
            redemption_id=redemption_id, code_key=key, customer_id=customer_id,
            order_id=order_id, order_amount=given and given.amount,
            currency=given and given.currency, metadata=metadata, api_key_id=api_key_id,
            now=now,
        )  # fmt: skip
        if spent is not None:
            return RedemptionRecord(
                id=redemption_id, coupon_id=spent.coupon_id, code=spent.code,
                customer_id=customer_id, order_id=order_id,
                remaining_count=spent.remaining_count, redeemed_at=now, reverted_at=None,
                order_amount=given and given.amount, currency=given and given.currency,
                discount_amount=spent.discount_amount, metadata=metadata,
            )  # fmt: skip
    # Coupons with a per-customer limit, refusals, and SQLite take the general path.
    db_now = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One statement both tests and spends; the matched row stays locked until commit.
        cursor.execute(raw.SPEND_ONE_USE, {"now": db_now, "code": key})
        row = cursor.fetchone()
        if row is None:
            raise _why_not_redeemable(code, now=now, customer_id=customer_id, order=given)
        coupon_id = Coupon._meta.pk.to_python(row[0])
        exact_code, remaining, per_customer_limit = row[1], row[2], row[3]
        discount = discount_from_columns(dict(zip(_DISCOUNT_COLUMNS, row[4:9], strict=True)))
        campaign_id = row[9]
        # Any refusal from here on rolls the spend back. In refusal_for's order: the
        # customer id, the campaign, the order, the budget, then the customer's counts.
        if per_customer_limit is not None and not customer_id:
            raise CustomerIdRequired()
        if campaign_id is None:
            refusal = order_refusal_for(discount, order=given, order_required=True)
            if refusal is not None:
                raise refusal
            off = (
                None
                if discount is None or given is None
                else discount_for(discount, order_amount=given.amount)
            )
            campaign_limit = None
        else:
            # The coupon row is locked: the campaign row comes second (lock order in
            # coupons.services.campaign_redemptions).
            campaign_id = Campaign._meta.pk.to_python(campaign_id)
            off, campaign_limit = take_campaign_use(
                campaign_id, customer_id=customer_id, order=given, now=now
            )
        if per_customer_limit is not None:
            assert customer_id is not None
            # Race-free: concurrent redemptions of this coupon wait on the row lock the
            # UPDATE took, so this count (a fresh snapshot) sees every one committed before.
            if _live_redemptions_of(coupon_id, customer_id) >= per_customer_limit:
                raise CustomerLimitReached(
                    f"Customer {customer_id!r} already holds {per_customer_limit} "
                    f"redemption(s) of this coupon."
                )
        if campaign_id is not None:
            take_customer_slot(campaign_id, customer_id=customer_id, limit=campaign_limit)
        redemption = Redemption.objects.create(
            coupon_id=coupon_id,
            customer_id=customer_id,
            order_id=order_id,
            remaining_after=remaining,
            redeemed_at=now,
            api_key_id=api_key_id,
            order_amount=given and given.amount,
            currency=given and given.currency,
            discount_amount=off,
            metadata=metadata,
        )
    return _record(redemption, exact_code)


def _why_not_redeemable(
    code: str, *, now: datetime, customer_id: str | None, order: Order | None
) -> DomainError:
    coupon = Coupon.objects.select_related("campaign").with_code(code).first()
    if coupon is None:
        return _not_found(code)
    # A use given back between the UPDATE and this read still counts as exhausted: at the
    # moment of the UPDATE, it was.
    refusal = refusal_for(
        coupon, now=now, customer_id=customer_id, order=order, order_required=True,
        campaign=coupon.campaign,
    )  # fmt: skip
    return refusal or CouponExhausted()


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
    given = _order(order)
    key = lookup_key(code)
    coupon = None if key is None else raw.one_coupon(code_key=key)
    if coupon is None:
        return ValidationResult(valid=False, reason=CouponNotFound.code, remaining_count=None)
    campaign = None if coupon.campaign_id is None else Campaign.objects.get(pk=coupon.campaign_id)
    refusal = refusal_for(coupon, now=now, customer_id=customer_id, order=given, campaign=campaign)
    if (
        refusal is None
        and coupon.per_customer_limit is not None
        and customer_id
        and _live_redemptions_of(coupon.id, customer_id) >= coupon.per_customer_limit
    ):
        refusal = CustomerLimitReached()
    if refusal is None and campaign is not None:
        refusal = campaign_limit_refusal(
            campaign.id, limit=campaign.per_customer_limit, customer_id=customer_id
        )
    if refusal is not None:
        return ValidationResult(
            valid=False,
            reason=refusal.code,
            remaining_count=coupon.remaining_count,
            details=refusal.data.get("details"),
        )
    discount = coupon.discount if campaign is None else campaign.discount
    if discount is None or given is None:
        return ValidationResult(valid=True, reason=None, remaining_count=coupon.remaining_count)
    off = discount_for(discount, order_amount=given.amount)
    return ValidationResult(
        valid=True,
        reason=None,
        remaining_count=coupon.remaining_count,
        discount_amount=off,
        amount_after_discount=given.amount - off,
        currency=given.currency,
    )


def revert_redemption(redemption_id: uuid.UUID, *, now: datetime | None = None) -> RedemptionRecord:
    """Give the use back, exactly once; for a code of a campaign, its capacity and its
    discount too."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock order: the redemption row, then its coupon row, then its campaign row, the
        # one order of every path (coupons.services.campaign_redemptions). Redeeming locks
        # the coupon row, then the campaign row (and inserts new rows), so the two can
        # never wait on each other in a cycle. The conditional UPDATE makes concurrent
        # reverts of one redemption race on that row: exactly one matches.
        stamped = Redemption.objects.filter(pk=redemption_id, reverted_at__isnull=True).update(
            reverted_at=now
        )
        if not stamped:
            if Redemption.objects.filter(pk=redemption_id).exists():
                raise AlreadyReverted()
            raise NotFound(f"No redemption has the id {redemption_id}.")
        redemption = Redemption.objects.select_related("coupon").get(pk=redemption_id)
        Coupon.objects.filter(pk=redemption.coupon_id).update(
            remaining_count=F("remaining_count") + 1, updated_at=now
        )
        if redemption.coupon.campaign_id is not None:
            give_back_campaign_use(
                redemption.coupon.campaign_id, discount_amount=redemption.discount_amount,
                customer_id=redemption.customer_id, now=now,
            )  # fmt: skip
    return _record(redemption, redemption.coupon.code)


def get_redemption(redemption_id: uuid.UUID) -> RedemptionRecord:
    try:
        redemption = Redemption.objects.select_related("coupon").get(pk=redemption_id)
    except Redemption.DoesNotExist as exc:
        raise NotFound(f"No redemption has the id {redemption_id}.") from exc
    return _record(redemption, redemption.coupon.code)


def redemption_page(
    *,
    cursor: Cursor | None,
    size: int,
    coupon_id: uuid.UUID | None = None,
    customer_id: str | None = None,
    code: str | None = None,
) -> Page[RedemptionRecord]:
    queryset = Redemption.objects.select_related("coupon")
    if coupon_id is not None:
        queryset = queryset.filter(coupon_id=coupon_id)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if code is not None:
        key = lookup_key(code)
        queryset = queryset.none() if key is None else queryset.filter(coupon__code__upper=key)
    page = keyset_page(queryset, moment="redeemed_at", cursor=cursor, size=size)
    return Page(
        [_record(r, r.coupon.code) for r in page.rows], next=page.next, previous=page.previous
    )


def coupon_redemption_page(
    coupon_id: uuid.UUID, *, cursor: Cursor | None, size: int
) -> Page[RedemptionRecord]:
    if not Coupon.objects.filter(pk=coupon_id).exists():
        raise NotFound(f"No coupon has the id {coupon_id}.")
    return redemption_page(cursor=cursor, size=size, coupon_id=coupon_id)


aget_redemption = in_worker(get_redemption)
aredemption_page = in_worker(redemption_page)
acoupon_redemption_page = in_worker(coupon_redemption_page)
