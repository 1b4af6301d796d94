"""Redemptions: spend a use, check one would be spent, give it back, read the trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from coupons.db import raw
from coupons.db.workers import in_worker
from coupons.domain.codes import lookup_key
from coupons.domain.rules import refusal_for
from coupons.errors import (
    AlreadyReverted,
    CouponExhausted,
    CouponNotFound,
    CustomerIdRequired,
    CustomerLimitReached,
    DomainError,
    NotFound,
)
from coupons.models import Coupon, Redemption
from coupons.services.pages import Cursor, Page, keyset_page


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


@dataclass(frozen=True, slots=True)
class ValidationResult:
    valid: bool
    reason: str | None
    remaining_count: int | None


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
    )


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
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> RedemptionRecord:
    """Spend one use of the coupon with `code` (any letter case) and record who spent it.

    Never oversold by construction: one conditional UPDATE decides, in the database, whether
    a use is left, and the redemption row is written in the same transaction. The CHECK
    constraint `remaining_count >= 0` backs it.
    """
    now = now or timezone.now()
    key = lookup_key(code)
    if key is None:
        raise _not_found(code)
    if raw.is_postgres():
        redemption_id = uuid.uuid4()
        spent = raw.spend_and_record(
            redemption_id=redemption_id, code_key=key, customer_id=customer_id,
            order_id=order_id, api_key_id=api_key_id, now=now,
        )  # fmt: skip
        if spent is not None:
            coupon_id, exact_code, remaining = spent
            return RedemptionRecord(
                id=redemption_id, coupon_id=coupon_id, code=exact_code,
                customer_id=customer_id, order_id=order_id, remaining_count=remaining,
                redeemed_at=now, reverted_at=None,
            )  # fmt: skip
    # Coupons with a per-customer limit, refusals, and SQLite take the general path.
    db_now = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One statement both tests and spends; the matched row stays locked until commit.
        cursor.execute(raw.SPEND_ONE_USE, {"now": db_now, "code": key})
        row = cursor.fetchone()
        if row is None:
            raise _why_not_redeemable(code, now=now, customer_id=customer_id)
        coupon_id = Coupon._meta.pk.to_python(row[0])
        exact_code, remaining, per_customer_limit = row[1], row[2], row[3]
        if per_customer_limit is not None:
            if not customer_id:
                raise CustomerIdRequired()  # rolls the spend back
            # Race-free: concurrent redemptions of this coupon wait on the row lock the
            # UPDATE took, so this count (a fresh snapshot) sees every one committed before.
            if _live_redemptions_of(coupon_id, customer_id) >= per_customer_limit:
                raise CustomerLimitReached(
                    f"Customer {customer_id!r} already holds {per_customer_limit} "
                    f"redemption(s) of this coupon."
                )
        redemption = Redemption.objects.create(
            coupon_id=coupon_id,
            customer_id=customer_id,
            order_id=order_id,
            remaining_after=remaining,
            redeemed_at=now,
            api_key_id=api_key_id,
        )
    return _record(redemption, exact_code)


def _why_not_redeemable(code: str, *, now: datetime, customer_id: str | None) -> DomainError:
    coupon = Coupon.objects.with_code(code).first()
    if coupon is None:
        return _not_found(code)
    # A use given back between the UPDATE and this read still counts as exhausted: at the
    # moment of the UPDATE, it was.
    return refusal_for(coupon, now=now, customer_id=customer_id) or CouponExhausted()


def validate_code(
    *, code: str, customer_id: str | None = None, now: datetime | None = None
) -> ValidationResult:
    """The same checks as `redeem_coupon`, spending nothing."""
    now = now or timezone.now()
    key = lookup_key(code)
    coupon = None if key is None else raw.one_coupon(code_key=key)
    if coupon is None:
        return ValidationResult(valid=False, reason=CouponNotFound.code, remaining_count=None)
    refusal = refusal_for(coupon, now=now, customer_id=customer_id)
    if (
        refusal is None
        and coupon.per_customer_limit is not None
        and customer_id
        and _live_redemptions_of(coupon.id, customer_id) >= coupon.per_customer_limit
    ):
        refusal = CustomerLimitReached()
    return ValidationResult(
        valid=refusal is None,
        reason=refusal.code if refusal else None,
        remaining_count=coupon.remaining_count,
    )


def revert_redemption(redemption_id: uuid.UUID, *, now: datetime | None = None) -> RedemptionRecord:
    """Give the use back, exactly once."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock order: the redemption row, then its coupon row. Redeeming locks only the
        # coupon row (and inserts new rows), so the two can never wait on each other in a
        # cycle. The conditional UPDATE makes concurrent reverts of one redemption race on
        # that row: exactly one matches.
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
