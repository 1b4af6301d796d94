"""Taking every use of several codes on one order, all or none, inside the caller's
transaction: for a redemption group (coupons.services.groups) or a reservation group
(coupons.services.hold_groups), priced together by coupons.domain.stacking. On PostgreSQL
the coupon rows are found by code and locked by one statement, and all the group writes
once its checks pass (the uses, its row, its members, their events) is one more
(coupons.db.group_sql).

Lock order, whatever order the codes came in (the one of coupons.services.spending): the
group's coupon rows in id order, then its campaign rows in id order, each table locked by
ONE statement whose rows are locked in its ORDER BY; then the customer's counter rows in
campaign id order. So two groups that share codes or campaigns never wait on each other in
a cycle, and neither waits in a cycle on a single redemption, a hold, a confirm, a release,
a revert or the sweeper, which take the same rows in the same order.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, F, Model, Q, Value, When
from django.db.models.fields import BigIntegerField

from core.errors import (
    BudgetExhausted,
    CampaignExhausted,
    CouponExhausted,
    CouponNotFound,
    CustomerLimitReached,
    NotCombinable,
)
from coupons.db import campaign_sql, group_sql
from coupons.domain.allocation import allocations_json
from coupons.domain.carts import Priced
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Discount, Order
from coupons.domain.orders import line_json
from coupons.domain.rules import refusal_for
from coupons.domain.stacking import application_order, not_combinable, price_stacked
from coupons.models import Campaign, Coupon, Reservation, ReservationStatus
from coupons.models.group import StackedOrder
from coupons.services.ledger_events import with_coupon_count
from coupons.services.spending import live_uses_of, return_expired_holds
from coupons.services.validations import refused_code
from coupons.shapes import CAMPAIGN, COUPON
from events.models import Event
from events.services.outbox import new_event

# Refusals that expired holds can cause (as coupons.services.spending's).
_RECLAIMABLE = (CouponExhausted, CampaignExhausted, BudgetExhausted, CustomerLimitReached)


@dataclass(frozen=True, slots=True)
class GroupTaken:
    """What a group takes: its coupons (in the order the codes were sent, as locked), the
    order they apply in, each one's part of the stacked discount, the uses left after it,
    and the whole order as priced (None without an order)."""

    members: list[Coupon]
    sequence: list[int]
    parts: dict[int, Priced | None]
    remaining: dict[uuid.UUID, int]
    total: Priced | None
    # The campaigns whose budget this group's discounts took to nothing.
    budgets_spent: frozenset[uuid.UUID] = frozenset()

    def applied(self) -> Iterator[tuple[int, Coupon, Priced | None]]:
        """(position, coupon, its part) in application order."""
        for position, index in enumerate(self.sequence):
            yield position, self.members[index], self.parts.get(index)


def reclaiming_group_holds[T](codes: Sequence[str], now: datetime, attempt: Callable[[], T]) -> T:
    """`attempt` (a transaction or a savepoint of its own); when refused for want of uses,
    capacity, budget or a slot, the expired holds of these codes and of their campaigns'
    codes are given back (in a transaction of their own, holding no lock of the attempt's:
    it rolled back) and `attempt` runs once more. Expired holds never keep a use from
    anyone."""
    try:
        return attempt()
    except _RECLAIMABLE as refused:
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


def take_group_uses(
    codes: Sequence[str], *, customer_id: str | None, order: Order | None, now: datetime,
    hold: bool,
) -> GroupTaken:  # fmt: skip
    """Check every code under the locks (in application order: the first refused one is
    raised, naming it in `details.code`), then take each campaign's capacity (as held, for
    a hold) and its code's part of the discount from the budget, and the customer's slots;
    the caller's transaction rolls back on a refusal. The coupons' uses are taken by
    `write_group`, in the statement that writes the group."""
    keys = [lookup_key(code) for code in codes]
    known = [k for k in keys if k is not None]
    locked = group_sql.lock_coupons_by_code(known) if known else {}
    for code, key in zip(codes, keys, strict=True):
        if key is None or key not in locked:
            raise refused_code(CouponNotFound(f"No coupon has the code {code!r}."), code)
    coupons = {c.id: c for c in locked.values()}
    campaign_ids = sorted({c.campaign_id for c in coupons.values() if c.campaign_id is not None})
    campaigns: dict[uuid.UUID, Campaign] = {}
    if campaign_ids:
        locked_campaigns = Campaign.objects.select_for_update().filter(pk__in=campaign_ids)
        campaigns = {c.id: c for c in locked_campaigns.order_by("id")}
    members = [locked[key] for key in keys if key is not None]
    discounts: list[Discount | None] = [
        c.discount if c.campaign_id is None else campaigns[c.campaign_id].discount for c in members
    ]
    sequence = application_order(discounts)
    _check_each(codes, members, sequence, campaigns, customer_id=customer_id, order=order, now=now)
    clash = not_combinable(discounts, [c.campaign_id for c in members])
    if clash is not None:
        raise refused_code(NotCombinable(), codes[clash])
    stacked = None if order is None else price_stacked(order, discounts)
    parts: dict[int, Priced | None] = {}
    if stacked is not None:
        parts = dict(zip(stacked.order, stacked.parts, strict=True))
    # A campaign's budget is charged its code's part of the stacked discount.
    for index in sequence:
        coupon, part = members[index], parts.get(index)
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
    _spend_campaigns(
        codes, members, parts, campaign_ids, customer_id=customer_id,
        limits={pk: c.per_customer_limit for pk, c in campaigns.items()}, now=now, hold=hold,
    )  # fmt: skip
    return GroupTaken(
        members=members,
        sequence=sequence,
        parts=parts,
        remaining={pk: c.remaining_count - 1 for pk, c in coupons.items()},
        total=None if stacked is None else stacked.total,
        budgets_spent=_budgets_spent(members, parts, campaigns),
    )


def _budgets_spent(
    members: list[Coupon], parts: dict[int, Priced | None], campaigns: dict[uuid.UUID, Campaign]
) -> frozenset[uuid.UUID]:
    """The campaigns (locked, as read before this group) that its discounts leave with no
    budget: record_use_taken's test, without reading the rows again."""
    spent = set()
    for index, coupon in enumerate(members):
        amount = _part_amount(parts.get(index))
        if coupon.campaign_id is None or not amount:
            continue
        campaign = campaigns[coupon.campaign_id]
        if campaign.budget_amount is not None and (
            campaign.discount_total + amount == campaign.budget_amount
        ):
            spent.add(campaign.id)
    return frozenset(spent)


def _check_each(
    codes: Sequence[str], members: list[Coupon], sequence: list[int],
    campaigns: dict[uuid.UUID, Campaign], *, customer_id: str | None, order: Order | None,
    now: datetime,
) -> None:  # fmt: skip
    for index in sequence:
        coupon = members[index]
        campaign = None if coupon.campaign_id is None else campaigns[coupon.campaign_id]
        # The order as sent (minimums); budgets are checked on each code's part.
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


def _spend_campaigns(
    codes: Sequence[str], members: list[Coupon], parts: dict[int, Priced | None],
    campaign_ids: list[uuid.UUID], *, customer_id: str | None,
    limits: dict[uuid.UUID, int | None], now: datetime, hold: bool,
) -> None:  # fmt: skip
    """Every check passed under the locks: one UPDATE of the campaigns, then the
    customer's slot in each campaign, in the lock order."""
    index_of = {m.campaign_id: i for i, m in enumerate(members) if m.campaign_id is not None}
    if campaign_ids:
        off = {pk: _part_amount(parts.get(index_of[pk])) for pk in campaign_ids}
        counter = "held_count" if hold else "redemption_count"
        # Two codes of one campaign never combine: each campaign takes one use.
        Campaign.objects.filter(pk__in=campaign_ids).update(
            **{counter: F(counter) + 1},
            discount_total=F("discount_total")
            + Case(
                *(When(pk=pk, then=Value(amount)) for pk, amount in off.items()),
                default=Value(0),
                output_field=BigIntegerField(),
            ),
            updated_at=now,
        )
    for campaign_id in campaign_ids:
        limit = limits[campaign_id]
        if customer_id and not campaign_sql.take_customer_slot(
            campaign_id=campaign_id, customer_id=customer_id, limit=limit
        ):
            raise refused_code(
                CustomerLimitReached(
                    f"Customer {customer_id!r} already holds {limit} redemption(s) of this "
                    f"campaign's codes."
                ),
                codes[index_of[campaign_id]],
            )


def write_group(
    taken: GroupTaken, *, group: StackedOrder, members: Sequence[Model],
    created: Sequence[Event], now: datetime, hold: bool,
) -> None:  # fmt: skip
    """Take each coupon's use (as held, for a hold) and write the group's row, its
    `members` (a redemption or a hold per code, in application order) and their events:
    each member's `created` event, then `coupon.exhausted` when it took its coupon's last
    use and `campaign.budget_exhausted` when its discount spent its campaign's budget (as
    coupons.services.ledger_events.record_use_taken writes them); in ONE statement on
    PostgreSQL, whose row locks `take_group_uses` already holds."""
    events: list[Event] = []
    for (_, coupon, _), event in zip(taken.applied(), created, strict=True):
        events.append(event)
        if taken.remaining[coupon.id] == 0:
            events.append(
                new_event("coupon.exhausted", COUPON(_spent(coupon, now=now, hold=hold)), now=now)
            )
        if coupon.campaign_id in taken.budgets_spent:
            # Rare (the last of a budget): read as record_campaign reads it.
            campaign = with_coupon_count(coupon.campaign_id)
            events.append(new_event("campaign.budget_exhausted", CAMPAIGN(campaign), now=now))
    spent = group_sql.spend_and_write(
        [c.id for c in taken.members], hold=hold, now=now, rows=[[group], members, events]
    )
    if spent != len(taken.members):  # pragma: no cover - checked under the same locks
        raise CouponExhausted()


def _spent(coupon: Coupon, *, now: datetime, hold: bool) -> Coupon:
    """The locked coupon as `write_group` leaves it: what reading it back would give."""
    after = copy.copy(coupon)
    after.remaining_count -= 1
    after.held_count += 1 if hold else 0
    after.updated_at = now
    return after


def _part_amount(part: Priced | None) -> int:
    return 0 if part is None else part.discount_amount


def group_columns(
    codes: Sequence[str], *, customer_id: str | None, order_id: str | None,
    order: Order | None, total: Priced | None, metadata: dict[str, str], now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """A group row's columns (a redemption group's or a reservation group's)."""
    return {
        "codes": list(codes),
        "customer_id": customer_id,
        "order_id": order_id,
        "order_amount": order and order.amount,
        "currency": order and order.currency,
        "order_lines": None
        if order is None or order.lines is None
        else [line_json(line) for line in order.lines],
        "shipping_amount": None if order is None else order.shipping_amount,
        "discount_amount": None if total is None else total.discount_amount,
        "shipping_discount_amount": None if total is None else total.shipping_discount_amount,
        "allocations": None if total is None else allocations_json(total.allocations),
        "metadata": metadata,
        "created_at": now,
    }


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
