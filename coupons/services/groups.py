"""Several codes on one order: validating them together, and redeeming them as one group,
all or none, in one transaction (coupons.domain.stacking prices them).

Lock order, whatever order the codes came in (the one of coupons.services.spending): a
group's coupon rows in id order, then its campaign rows in id order, then the customer's
counter rows in campaign id order. A revert locks the group's redemption rows (in id
order) first, then the same. So two groups that share codes or campaigns never wait on
each other in a cycle, and neither waits in a cycle on a single redemption, a hold or a
revert, which take the same rows in the same order.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import (
    AlreadyReverted,
    BudgetExhausted,
    CampaignExhausted,
    CouponExhausted,
    CouponNotFound,
    CustomerLimitReached,
    NotCombinable,
    NotFound,
)
from core.workers import in_worker
from coupons.db import campaign_sql
from coupons.domain.allocation import allocations_json
from coupons.domain.carts import Priced
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Discount, Order
from coupons.domain.orders import line_json
from coupons.domain.rules import refusal_for
from coupons.domain.stacking import application_order, not_combinable, price_stacked
from coupons.models import (
    Campaign,
    CampaignCustomer,
    Coupon,
    Redemption,
    RedemptionGroup,
    Reservation,
    ReservationStatus,
)
from coupons.services.ledger_events import record_use_taken
from coupons.services.priced_orders import order_of, order_shown, priced_columns
from coupons.services.redemptions import (
    RedemptionRecord,
    record_redemption,
    redemption_record,
)
from coupons.services.spending import live_uses_of, return_expired_holds
from coupons.services.validations import refused_code

# Refusals that expired holds can cause (as coupons.services.spending's).
_RECLAIMABLE = (CouponExhausted, CampaignExhausted, BudgetExhausted, CustomerLimitReached)


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: uuid.UUID
    codes: list[str]
    customer_id: str | None
    order_id: str | None
    order_amount: int | None
    currency: str | None
    order_lines: list[dict[str, Any]] | None
    shipping_amount: int | None
    discount_amount: int | None
    shipping_discount_amount: int | None
    allocations: list[dict[str, Any]] | None
    created_at: datetime
    redemptions: list[RedemptionRecord]

    @property
    def order(self) -> dict[str, Any] | None:
        return order_shown(
            order_amount=self.order_amount, currency=self.currency,
            order_lines=self.order_lines, shipping_amount=self.shipping_amount,
        )  # fmt: skip

    @property
    def amount_after_discount(self) -> int | None:
        if self.order_amount is None or self.discount_amount is None:
            return None
        return self.order_amount - (self.discount_amount - (self.shipping_discount_amount or 0))

    @property
    def shipping_amount_after_discount(self) -> int | None:
        if self.shipping_amount is None or self.discount_amount is None:
            return None
        return self.shipping_amount - (self.shipping_discount_amount or 0)


def group_record(group: RedemptionGroup) -> GroupRecord:
    members = sorted(
        group.redemptions.select_related("coupon"), key=lambda r: (r.group_position, r.pk)
    )
    return GroupRecord(
        id=group.id,
        codes=list(group.codes),
        customer_id=group.customer_id,
        order_id=group.order_id,
        order_amount=group.order_amount,
        currency=group.currency,
        order_lines=group.order_lines,
        shipping_amount=group.shipping_amount,
        discount_amount=group.discount_amount,
        shipping_discount_amount=group.shipping_discount_amount,
        allocations=group.allocations,
        created_at=group.created_at,
        redemptions=[redemption_record(r, r.coupon.code) for r in members],
    )


def redeem_codes(
    *,
    codes: Sequence[str],
    customer_id: str | None = None,
    order_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> GroupRecord:
    """Redeem every code on one order, or none: one transaction takes every use, every
    campaign's capacity and budget and every customer slot, or raises the refusal of the
    first code (in application order) refused, naming it in `details.code`."""
    now = now or timezone.now()
    given = order_of(order)

    def attempt() -> GroupRecord:
        # A savepoint when nested (under an Idempotency-Key's claim).
        with transaction.atomic():
            return _redeem_group(
                codes, customer_id=customer_id, order_id=order_id, order=given,
                metadata=metadata or {}, api_key_id=api_key_id, now=now,
            )  # fmt: skip

    try:
        return attempt()
    except _RECLAIMABLE as refused:
        # Expired holds never keep a use from anyone: give back those of these codes and
        # their campaigns' codes (in a transaction of their own, holding no lock of ours:
        # the first attempt rolled back), then try once more.
        if not _return_expired_holds_of(codes, now=now):
            raise refused from None
    return attempt()


def _return_expired_holds_of(codes: Sequence[str], *, now: datetime) -> int:
    keys = [k for k in (lookup_key(c) for c in codes) if k is not None]
    rows = list(Coupon.objects.filter(code__upper__in=keys).values_list("id", "campaign_id"))
    coupon_ids = [row[0] for row in rows]
    campaign_ids = [row[1] for row in rows if row[1] is not None]
    ids = list(
        Reservation.objects.filter(status=ReservationStatus.HELD, expires_at__lte=now)
        .filter(Q(coupon_id__in=coupon_ids) | Q(coupon__campaign_id__in=campaign_ids))
        .values_list("id", flat=True)
    )
    if not ids:
        return 0
    return return_expired_holds(now=now, ids=ids, skip_locked=False)


def _redeem_group(
    codes: Sequence[str], *, customer_id: str | None, order_id: str | None,
    order: Order | None, metadata: dict[str, str], api_key_id: uuid.UUID | None,
    now: datetime,
) -> GroupRecord:  # fmt: skip
    keys = [lookup_key(code) for code in codes]
    ids_by_key = dict(
        Coupon.objects.filter(code__upper__in=[k for k in keys if k is not None]).values_list(
            "code__upper", "id"
        )
    )
    for code, key in zip(codes, keys, strict=True):
        if key is None or key not in ids_by_key:
            raise refused_code(CouponNotFound(f"No coupon has the code {code!r}."), code)
    # The lock order: coupon rows in id order, then campaign rows in id order.
    coupons = {
        c.id: c
        for c in Coupon.objects.select_for_update(of=("self",))
        .filter(pk__in=ids_by_key.values())
        .order_by("id")
    }
    campaign_ids = sorted({c.campaign_id for c in coupons.values() if c.campaign_id is not None})
    campaigns = {
        c.id: c
        for c in Campaign.objects.select_for_update().filter(pk__in=campaign_ids).order_by("id")
    }
    members = [coupons[ids_by_key[key]] for key in keys if key is not None]
    discounts: list[Discount | None] = [
        c.discount if c.campaign_id is None else campaigns[c.campaign_id].discount for c in members
    ]
    sequence = application_order(discounts)
    for index in sequence:
        coupon = members[index]
        campaign = None if coupon.campaign_id is None else campaigns[coupon.campaign_id]
        # The order as sent (minimums); budgets are checked below on each code's part.
        refusal = refusal_for(
            coupon, now=now, customer_id=customer_id, order=order, order_required=True,
            campaign=None if campaign is None else _unbudgeted(campaign),
        )  # fmt: skip
        if (
            refusal is None
            and coupon.per_customer_limit is not None
            and customer_id
            and live_uses_of(coupon.id, customer_id) >= coupon.per_customer_limit
        ):
            refusal = CustomerLimitReached()
        if refusal is not None:
            raise refused_code(refusal, codes[index])
    clash = not_combinable(discounts, [c.campaign_id for c in members])
    if clash is not None:
        raise refused_code(NotCombinable(), codes[clash])
    stacked = None if order is None else price_stacked(order, discounts)
    parts: dict[int, Priced | None] = {}
    if stacked is not None:
        parts = dict(zip(stacked.order, stacked.parts, strict=True))
    for index in sequence:
        coupon = members[index]
        part = parts.get(index)
        if coupon.campaign_id is None or part is None:
            continue
        campaign = campaigns[coupon.campaign_id]
        if (
            campaign.budget_amount is not None
            and campaign.discount_total + part.discount_amount > campaign.budget_amount
        ):
            raise refused_code(
                BudgetExhausted(
                    f"A discount of {part.discount_amount} would take the campaign past its "
                    f"budget ({campaign.budget_amount - campaign.discount_total} left)."
                ),
                codes[index],
            )

    # Every check passed under the locks: spend, in the lock order.
    remaining: dict[uuid.UUID, int] = {}
    for coupon_id in sorted(coupons):
        updated = Coupon.objects.filter(pk=coupon_id, remaining_count__gt=0).update(
            remaining_count=F("remaining_count") - 1, updated_at=now
        )
        if not updated:  # pragma: no cover - checked above under the same lock
            raise refused_code(CouponExhausted(), coupons[coupon_id].code)
        remaining[coupon_id] = coupons[coupon_id].remaining_count - 1
    by_campaign = {m.campaign_id: i for i, m in enumerate(members) if m.campaign_id is not None}
    for campaign_id in campaign_ids:
        part = parts.get(by_campaign[campaign_id])
        Campaign.objects.filter(pk=campaign_id).update(
            redemption_count=F("redemption_count") + 1,
            discount_total=F("discount_total") + (0 if part is None else part.discount_amount),
            updated_at=now,
        )
    for campaign_id in campaign_ids:
        limit = campaigns[campaign_id].per_customer_limit
        if customer_id and not campaign_sql.take_customer_slot(
            campaign_id=campaign_id, customer_id=customer_id, limit=limit
        ):
            raise refused_code(
                CustomerLimitReached(
                    f"Customer {customer_id!r} already holds {limit} redemption(s) of this "
                    f"campaign's codes."
                ),
                codes[by_campaign[campaign_id]],
            )

    total = None if stacked is None else stacked.total
    group = RedemptionGroup.objects.create(
        codes=list(codes),
        customer_id=customer_id,
        order_id=order_id,
        order_amount=order and order.amount,
        currency=order and order.currency,
        order_lines=None
        if order is None or order.lines is None
        else [line_json(line) for line in order.lines],
        shipping_amount=None if order is None else order.shipping_amount,
        discount_amount=None if total is None else total.discount_amount,
        shipping_discount_amount=None if total is None else total.shipping_discount_amount,
        allocations=None if total is None else allocations_json(total.allocations),
        metadata=metadata,
        created_at=now,
    )
    for position, index in enumerate(sequence):
        coupon = members[index]
        part = parts.get(index)
        redemption = Redemption.objects.create(
            coupon_id=coupon.id,
            customer_id=customer_id,
            order_id=order_id,
            remaining_after=remaining[coupon.id],
            redeemed_at=now,
            api_key_id=api_key_id,
            order_amount=order and order.amount,
            currency=order and order.currency,
            discount_amount=None if part is None else part.discount_amount,
            metadata=metadata,
            group=group,
            group_position=position,
            **priced_columns(order, part),
        )
        record_redemption("redemption.created", redemption_record(redemption, coupon.code), now=now)
        record_use_taken(
            coupon_id=coupon.id, remaining_count=remaining[coupon.id],
            discount_amount=redemption.discount_amount, now=now,
        )  # fmt: skip
    return group_record(group)


@dataclass(slots=True)
class _Unbudgeted:
    """A campaign as refusal_for sees it in a group: every rule but the budget, which the
    group checks on the code's own part of the stacked discount."""

    is_active: bool
    starts_at: datetime | None
    expires_at: datetime | None
    per_customer_limit: int | None
    max_redemptions: int | None
    redemption_count: int
    held_count: int
    discount_total: int
    discount: Discount | None
    budget_amount: int | None = None  # always None: see above


def _unbudgeted(campaign: Campaign) -> _Unbudgeted:
    return _Unbudgeted(
        is_active=campaign.is_active, starts_at=campaign.starts_at,
        expires_at=campaign.expires_at, per_customer_limit=campaign.per_customer_limit,
        max_redemptions=campaign.max_redemptions, redemption_count=campaign.redemption_count,
        held_count=campaign.held_count, discount_total=campaign.discount_total,
        discount=campaign.discount,
    )  # fmt: skip


def get_redemption_group(group_id: uuid.UUID) -> GroupRecord:
    group = RedemptionGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"No redemption group has the id {group_id}.")
    return group_record(group)


def revert_redemption_group(group_id: uuid.UUID, *, now: datetime | None = None) -> GroupRecord:
    """Give back every live redemption of the group, in one transaction: the uses, the
    campaigns' capacity and discounts, the customers' slots. AlreadyReverted when none
    was live."""
    now = now or timezone.now()
    with transaction.atomic():
        group = RedemptionGroup.objects.filter(pk=group_id).first()
        if group is None:
            raise NotFound(f"No redemption group has the id {group_id}.")
        # The lock order: the redemption rows (id order), coupons, campaigns, counters.
        live = list(
            Redemption.objects.select_for_update(of=("self",))
            .filter(group_id=group_id, reverted_at__isnull=True)
            .select_related("coupon")
            .order_by("id")
        )
        if not live:
            raise AlreadyReverted()
        Redemption.objects.filter(pk__in=[r.pk for r in live]).update(reverted_at=now)
        for redemption in sorted(live, key=lambda r: r.coupon_id):
            Coupon.objects.filter(pk=redemption.coupon_id).update(
                remaining_count=F("remaining_count") + 1, updated_at=now
            )
        of_campaigns = sorted(
            ((r.coupon.campaign_id, r) for r in live if r.coupon.campaign_id is not None),
            key=lambda pair: pair[0],
        )
        for campaign_id, redemption in of_campaigns:
            Campaign.objects.filter(pk=campaign_id).update(
                redemption_count=F("redemption_count") - 1,
                discount_total=F("discount_total") - (redemption.discount_amount or 0),
                updated_at=now,
            )
        for campaign_id, redemption in of_campaigns:
            if redemption.customer_id:
                CampaignCustomer.objects.filter(
                    campaign_id=campaign_id, customer_id=redemption.customer_id
                ).update(live_count=F("live_count") - 1)
        for redemption in live:
            redemption.reverted_at = now
            record_redemption(
                "redemption.reverted", redemption_record(redemption, redemption.coupon.code),
                now=now,
            )  # fmt: skip
        return group_record(group)


aget_redemption_group = in_worker(get_redemption_group)
