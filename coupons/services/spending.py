"""Taking one use of a code, for a redemption or a hold, inside the caller's transaction:
the coupon's use, its campaign's capacity and budget, the customer's slots; and giving
back the holds that expired, which must never keep a use from anyone.

Lock order (coupons.services.campaign_redemptions): a redemption or reservation row, then
the coupon row, then the campaign row, then the customer's counter row. Returning expired
holds locks their reservation rows in id order (the sweeper SKIP LOCKED: one being
confirmed or released is that transaction's business), then their coupons in id order,
then campaigns in id order, then counters; so it never waits on a redemption, a hold, a
confirm or a release in a cycle. A redemption or hold that reclaims them does so in the
transaction that then takes its use, with its code's coupon row locked in its id-order
turn among theirs, waiting for holds another transaction is returning
(`reclaiming_expired_holds`).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from django.db import transaction
from django.db.models import Count, F, Q, Sum

from core.errors import (
    BudgetExhausted,
    CampaignExhausted,
    CouponExhausted,
    CouponNotFound,
    CustomerIdRequired,
    CustomerLimitReached,
    DomainError,
)
from coupons.db import raw
from coupons.domain.carts import Priced, price_order
from coupons.domain.discounts import Order, discount_from_columns
from coupons.domain.rules import order_refusal_for, refusal_for
from coupons.models import (
    Campaign,
    CampaignCustomer,
    Coupon,
    Redemption,
    Reservation,
    ReservationStatus,
)
from coupons.services.campaign_redemptions import take_campaign_use, take_customer_slot
from coupons.services.hold_records import record_expired_holds

# Refusals that expired holds can cause: the uses, capacity, budget or slots they took.
_RECLAIMABLE = (CouponExhausted, CampaignExhausted, BudgetExhausted, CustomerLimitReached)


class Taken(NamedTuple):
    coupon_id: uuid.UUID
    code: str
    remaining_count: int
    discount_amount: int | None
    priced: Priced | None = None  # where the discount went (None: no discount computed)
    campaign_id: uuid.UUID | None = None


def live_uses_of(coupon_id: uuid.UUID, customer_id: str) -> int:
    """A customer's live redemptions and held holds of one coupon (its per-customer limit)."""
    redeemed = Redemption.objects.filter(
        coupon_id=coupon_id, customer_id=customer_id, reverted_at__isnull=True
    ).count()
    held = Reservation.objects.filter(
        coupon_id=coupon_id, customer_id=customer_id, status=ReservationStatus.HELD
    ).count()
    return redeemed + held


class ExpiredHolds(NamedTuple):
    """Held holds past their expiry that nothing returned yet, of a coupon (and of its
    campaign's codes): what the next redemption would reclaim before spending."""

    of_coupon: int = 0
    of_campaign: int = 0
    campaign_discount: int = 0
    customers_of_coupon: int = 0
    customers_of_campaign: int = 0


def expired_holds_of(
    coupon_id: uuid.UUID, *, campaign_id: uuid.UUID | None, customer_id: str | None,
    now: datetime,
) -> ExpiredHolds:  # fmt: skip
    """One aggregate read, no lock (a validation's question: it counts them as free)."""
    same = Q(coupon_id=coupon_id)
    mine = Q(customer_id=customer_id) if customer_id else Q(pk__in=[])
    totals = (
        Reservation.objects.filter(status=ReservationStatus.HELD, expires_at__lte=now)
        .filter(same | Q(coupon__campaign_id=campaign_id) if campaign_id else same)
        .aggregate(
            of_coupon=Count("pk", filter=same),
            of_campaign=Count("pk"),
            campaign_discount=Sum("discount_amount", default=0),
            customers_of_coupon=Count("pk", filter=same & mine),
            customers_of_campaign=Count("pk", filter=mine),
        )
    )
    return ExpiredHolds(**totals)


def not_found(code: str) -> CouponNotFound:
    return CouponNotFound(f"No coupon has the code {code!r}.")


def take_use(
    *,
    key: str,
    code: str,
    customer_id: str | None,
    order: Order | None,
    now: datetime,
    hold: bool,
) -> Taken:
    """Spend one use of the coupon `key` names (as held, for a hold) with every check of
    coupons.domain.rules; the caller's transaction holds the locks and rolls back on the
    refusal this raises."""
    # One statement both tests and spends; the matched row stays locked until commit.
    spent = raw.spend_one_use(code_key=key, now=now, hold=hold)
    if spent is None:
        raise _why_not_redeemable(code, now=now, customer_id=customer_id, order=order)
    coupon_id, exact_code, remaining = spent.coupon_id, spent.code, spent.remaining_count
    per_customer_limit, campaign_id = spent.per_customer_limit, spent.campaign_id
    discount = discount_from_columns(spent.discount_columns)
    # In refusal_for's order: the customer id, the campaign, the order, the budget, then
    # the customer's counts.
    if per_customer_limit is not None and not customer_id:
        raise CustomerIdRequired()
    if campaign_id is None:
        refusal = order_refusal_for(discount, order=order, order_required=True)
        if refusal is not None:
            raise refusal
        priced = None if discount is None or order is None else price_order(discount, order)
        campaign_limit = None
    else:
        # The coupon row is locked: the campaign row comes second.
        priced, campaign_limit = take_campaign_use(
            campaign_id, customer_id=customer_id, order=order, now=now, hold=hold
        )
    off = None if priced is None else priced.discount_amount
    if per_customer_limit is not None:
        assert customer_id is not None
        # Race-free: concurrent redemptions and holds of this coupon wait on the row lock
        # the UPDATE took, so this count (a fresh snapshot) sees every one committed before.
        if live_uses_of(coupon_id, customer_id) >= per_customer_limit:
            raise CustomerLimitReached(
                f"Customer {customer_id!r} already holds {per_customer_limit} "
                f"redemption(s) of this coupon."
            )
    if campaign_id is not None:
        take_customer_slot(campaign_id, customer_id=customer_id, limit=campaign_limit)
    return Taken(coupon_id, exact_code, remaining, off, priced, campaign_id)


def _why_not_redeemable(
    code: str, *, now: datetime, customer_id: str | None, order: Order | None
) -> DomainError:
    coupon = Coupon.objects.select_related("campaign").with_code(code).first()
    if coupon is None:
        return not_found(code)
    # A use given back between the UPDATE and this read still counts as exhausted: at the
    # moment of the UPDATE, it was.
    refusal = refusal_for(
        coupon, now=now, customer_id=customer_id, order=order, order_required=True,
        campaign=coupon.campaign,
    )  # fmt: skip
    return refusal or CouponExhausted()


def reclaiming_expired_holds[T](key: str, now: datetime, attempt: Callable[[], T]) -> T:
    """`attempt` (a transaction of its own, or a savepoint); when refused for want of
    uses, capacity, budget or a slot, ONE transaction gives back the expired holds of the
    code and of its campaign's codes and runs `attempt` once more: both commit or neither
    does, so a retry refused again leaves the expired holds held (for the sweeper).

    The retry runs whether or not anything is held by then: refusals that met the same
    expired holds at once all come here, one of them returns them all (and another may
    have committed that before this call looks) and only one use of what it freed is its
    own. So the retry decides on what can be taken now, not on what was held: the answer
    is the retry's."""
    try:
        return attempt()
    except _RECLAIMABLE as refused:
        refusal = refused
    scope = _hold_scope(key)
    if scope is None:
        # No such code any more (deleted since): the refusal stands.
        raise refusal
    # The first attempt rolled back and holds no lock. The reclaim locks the expired
    # reservation rows, then the code's own coupon row with the holds' coupons in id
    # order, then campaigns, then counters; the retry then takes only rows it already
    # holds, or its customer's counter after its campaign: the lock order. It waits for
    # rows another transaction is returning (no SKIP LOCKED here): skipping them, it would
    # take its use before that one gives them back, and be refused what is about to be
    # free. Waiters lock reservation rows in id order, before any coupon row, so they wait
    # on no one in a cycle.
    with transaction.atomic():
        return_expired_holds(now=now, scope=scope, skip_locked=False)
        return attempt()


def _hold_scope(code_key: str) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """The ids of the code's coupon and of its campaign; None when no coupon has it."""
    coupon = Coupon.objects.filter(code__upper=code_key).values_list("id", "campaign_id").first()
    return None if coupon is None else (coupon[0], coupon[1])


def return_expired_holds(
    *, now: datetime, scope: tuple[uuid.UUID, uuid.UUID | None] | None = None,
    ids: list[uuid.UUID] | None = None, limit: int = 1000, skip_locked: bool = True,
) -> int:  # fmt: skip
    """Mark held holds past `expires_at` as expired and give back what each took, exactly
    once (the status moves from held under the row lock); of a coupon and its campaign's
    codes (`scope`, whose coupon row is locked in its turn too), of `ids`, or (the
    sweeper) all. Holds locked by another transaction are skipped, or with `skip_locked`
    false waited for (and left out if it returned them). How many were returned."""
    holds = Reservation.objects.filter(status=ReservationStatus.HELD, expires_at__lte=now)
    also_lock = None
    if ids is not None:
        holds = holds.filter(pk__in=ids)
    if scope is not None:
        also_lock, campaign_id = scope
        same = Q(coupon_id=also_lock)
        holds = holds.filter(same | Q(coupon__campaign_id=campaign_id) if campaign_id else same)
    with transaction.atomic():
        rows = list(
            holds.select_for_update(skip_locked=skip_locked, of=("self",))
            .order_by("id")
            .values_list(
                "id",
                "coupon_id",
                "coupon__campaign_id",
                "customer_id",
                "discount_amount",
                named=True,
            )[:limit]
        )
        if not rows:
            return 0
        ids = [row.id for row in rows]
        Reservation.objects.filter(pk__in=ids).update(
            status=ReservationStatus.EXPIRED, returned_at=now
        )
        give_back_holds(
            [
                (row.coupon_id, row.coupon__campaign_id, row.customer_id, row.discount_amount)
                for row in rows
            ],
            now=now,
            also_lock=also_lock,
        )
        record_expired_holds(ids, now=now)
    return len(rows)


def give_back_holds(
    holds: list[tuple[uuid.UUID, uuid.UUID | None, str | None, int | None]],
    *,
    now: datetime,
    also_lock: uuid.UUID | None = None,
) -> None:
    """Return holds' uses (coupon, campaign, customer, discount each), inside the caller's
    transaction, which holds their reservation rows: coupons, then campaigns, then
    counters, each in id order (the lock order). `also_lock`: a coupon locked in its
    turn among them, for the caller to spend a use of in the same transaction."""
    per_coupon: Counter[uuid.UUID] = Counter()
    per_campaign: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    per_customer: Counter[tuple[uuid.UUID, str]] = Counter()
    for coupon_id, campaign_id, customer_id, discount in holds:
        per_coupon[coupon_id] += 1
        if campaign_id is not None:
            per_campaign[campaign_id][0] += 1
            per_campaign[campaign_id][1] += discount or 0
            if customer_id:
                per_customer[(campaign_id, customer_id)] += 1
    for coupon_id in sorted(per_coupon.keys() | ({also_lock} if also_lock else set())):
        n = per_coupon[coupon_id]
        if not n:
            list(Coupon.objects.select_for_update().filter(pk=coupon_id).values_list("pk"))
            continue
        Coupon.objects.filter(pk=coupon_id).update(
            remaining_count=F("remaining_count") + n, held_count=F("held_count") - n, updated_at=now
        )
    for campaign_id in sorted(per_campaign):
        n, off = per_campaign[campaign_id]
        Campaign.objects.filter(pk=campaign_id).update(
            held_count=F("held_count") - n, discount_total=F("discount_total") - off, updated_at=now
        )
    for (campaign_id, customer_id), n in sorted(per_customer.items()):
        CampaignCustomer.objects.filter(campaign_id=campaign_id, customer_id=customer_id).update(
            live_count=F("live_count") - n
        )
