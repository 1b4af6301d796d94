"""The campaign invariant for tests: its counters (and each customer's) equal the sums over
its live redemptions."""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from coupons.models import Campaign, CampaignCustomer, Redemption


def campaign_sums(campaign: Campaign) -> tuple[int, int]:
    """(live redemptions, their discounts) over the campaign's codes, counted from rows."""
    live = Q(coupons__redemptions__reverted_at__isnull=True)
    row = Campaign.objects.filter(pk=campaign.pk).aggregate(
        count=Count("coupons__redemptions", filter=live),
        total=Coalesce(Sum("coupons__redemptions__discount_amount", filter=live), 0),
    )
    return row["count"], row["total"]


def broken_campaign_counters() -> list[str]:
    """Every campaign whose counters differ from its rows, or past its limits (none)."""
    broken = []
    for campaign in Campaign.objects.all():
        count, total = campaign_sums(campaign)
        if (campaign.redemption_count, campaign.discount_total) != (count, total):
            broken.append(
                f"{campaign.name}: counters {campaign.redemption_count}, "
                f"{campaign.discount_total} != rows {count}, {total}"
            )
        if campaign.held_count != 0:
            broken.append(f"{campaign.name}: held_count {campaign.held_count}")
        if campaign.max_redemptions is not None and count > campaign.max_redemptions:
            broken.append(f"{campaign.name}: {count} > max {campaign.max_redemptions}")
        if campaign.budget_amount is not None and total > campaign.budget_amount:
            broken.append(f"{campaign.name}: {total} > budget {campaign.budget_amount}")
        counted = dict(
            CampaignCustomer.objects.filter(campaign=campaign, live_count__gt=0).values_list(
                "customer_id", "live_count"
            )
        )
        live = dict(
            Redemption.objects.filter(
                coupon__campaign=campaign, reverted_at__isnull=True, customer_id__isnull=False
            )
            .values("customer_id")
            .annotate(n=Count("id"))
            .values_list("customer_id", "n")
        )
        if counted != live:
            broken.append(f"{campaign.name}: customer counters {counted} != rows {live}")
    return broken
