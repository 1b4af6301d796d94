"""The campaign invariant for tests: its counters (and each customer's) equal the sums over
its live redemptions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from coupons.models import Campaign, CampaignCustomer, Redemption, Reservation, ReservationStatus
from coupons.services import campaigns as campaign_service
from coupons.services import reservations as reservation_service
from tests.factories import make_coupon

# The order of the holds below: 20.00 EUR, from which the campaign takes 5.00.
ORDER = {"amount": 2000, "currency": "EUR"}


def campaign_sums(campaign: Campaign) -> tuple[int, int]:
    """(live redemptions, their discounts) over the campaign's codes, counted from rows."""
    live = Q(coupons__redemptions__reverted_at__isnull=True)
    row = Campaign.objects.filter(pk=campaign.pk).aggregate(
        count=Count("coupons__redemptions", filter=live),
        total=Coalesce(Sum("coupons__redemptions__discount_amount", filter=live), 0),
    )
    return row["count"], row["total"]


def campaign_holds(campaign: Campaign) -> tuple[int, int]:
    """(held holds, their discounts) over the campaign's codes, counted from rows."""
    row = Reservation.objects.filter(
        coupon__campaign=campaign, status=ReservationStatus.HELD
    ).aggregate(count=Count("id"), total=Coalesce(Sum("discount_amount"), 0))
    return row["count"], row["total"]


def broken_campaign_counters(campaigns: Iterable[Campaign] | None = None) -> list[str]:
    """Every campaign (or every one of `campaigns`) whose counters differ from its rows, or
    past its limits (none)."""
    broken = []
    for campaign in Campaign.objects.all() if campaigns is None else campaigns:
        count, total = campaign_sums(campaign)
        holds, held_total = campaign_holds(campaign)
        if campaign.held_count != holds:
            broken.append(f"{campaign.name}: held_count {campaign.held_count} != holds {holds}")
        total += held_total
        if (campaign.redemption_count, campaign.discount_total) != (count, total):
            broken.append(
                f"{campaign.name}: counters {campaign.redemption_count}, "
                f"{campaign.discount_total} != rows {count}, {total} (holds included)"
            )
        if campaign.max_redemptions is not None and count + holds > campaign.max_redemptions:
            broken.append(f"{campaign.name}: {count} + {holds} > max {campaign.max_redemptions}")
        if campaign.budget_amount is not None and total > campaign.budget_amount:
            broken.append(f"{campaign.name}: {total} > budget {campaign.budget_amount}")
        counted = dict(
            CampaignCustomer.objects.filter(campaign=campaign, live_count__gt=0).values_list(
                "customer_id", "live_count"
            )
        )
        live = Counter(
            dict(
                Redemption.objects.filter(
                    coupon__campaign=campaign, reverted_at__isnull=True, customer_id__isnull=False
                )
                .values("customer_id")
                .annotate(n=Count("id"))
                .values_list("customer_id", "n")
            )
        )
        live.update(
            dict(
                Reservation.objects.filter(
                    coupon__campaign=campaign,
                    status=ReservationStatus.HELD,
                    customer_id__isnull=False,
                )
                .values("customer_id")
                .annotate(n=Count("id"))
                .values_list("customer_id", "n")
            )
        )
        live = Counter({k: v for k, v in live.items() if v})
        if Counter(counted) != live:
            broken.append(f"{campaign.name}: customer counters {counted} != rows {live}")
    return broken


def campaign_held_whole(prefix: str) -> tuple[Campaign, datetime]:
    """A campaign of one use (5.00 EUR off, a budget of 5.00 EUR, one use per customer)
    with the codes `<prefix>-A` and `<prefix>-B`, and that use held by customer "x" on
    `<prefix>-A` (an ORDER) for 30 s from the moment returned."""
    campaign = campaign_service.create_campaign(
        name="C", discount={"amount_off": 500, "currency": "EUR"}, max_redemptions=1,
        budget={"amount": 500, "currency": "EUR"}, per_customer_limit=1,
    )  # fmt: skip
    make_coupon(f"{prefix}-A", init_count=5, campaign_id=campaign.id)
    make_coupon(f"{prefix}-B", init_count=5, campaign_id=campaign.id)
    start = timezone.now()
    reservation_service.hold_coupon(
        code=f"{prefix}-a", customer_id="x", order=ORDER, ttl_seconds=30, now=start
    )
    return campaign, start
