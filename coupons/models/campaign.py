"""The campaign table: many codes under one set of rules and one budget, whose counters
the database itself keeps within bounds (CHECK constraints)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from coupons.domain.discounts import DISCOUNT_FIELDS, Discount, discount_from_columns
from coupons.domain.limits import MAX_CAMPAIGN_NAME_LENGTH, MAX_CUSTOMER_ID_LENGTH, MAX_INIT_COUNT
from coupons.models.columns import CURRENCY_LENGTH, amount_in_range, metadata_field

# A discount's columns, less their `discount_` prefix: the five, and the targeting JSON.
DISCOUNT_COLUMNS = (*DISCOUNT_FIELDS, "rules")


def _discount_constraints(table: str) -> list[models.CheckConstraint]:
    """A discount's rules (coupons.domain.discounts.discount_problems) that a row can break,
    as the coupon table has them."""
    return [
        models.CheckConstraint(
            condition=Q(discount_percent_off__isnull=True) | Q(discount_amount_off__isnull=True),
            name=f"{table}_discount_percent_or_amount",
        ),
        models.CheckConstraint(
            condition=Q(discount_percent_off__isnull=True)
            | Q(discount_percent_off__gt=0, discount_percent_off__lte=100),
            name=f"{table}_discount_percent_in_range",
        ),
        *(
            models.CheckConstraint(
                condition=amount_in_range(f"discount_{name}"),
                name=f"{table}_discount_{name}_in_range",
            )
            for name in ("amount_off", "max_amount_off", "min_order_amount")
        ),
        models.CheckConstraint(
            condition=Q(discount_currency__isnull=False)
            | Q(
                discount_amount_off__isnull=True,
                discount_max_amount_off__isnull=True,
                discount_min_order_amount__isnull=True,
            ),
            name=f"{table}_discount_currency_where_needed",
        ),
        # With targeting (`discount_rules`), an amount_off may take a cap (allocation
        # each), and a buy X get Y has neither percent nor amount: the domain checks those.
        models.CheckConstraint(
            condition=Q(discount_max_amount_off__isnull=True)
            | Q(discount_percent_off__isnull=False)
            | Q(discount_rules__isnull=False),
            name=f"{table}_discount_max_only_with_percent",
        ),
        models.CheckConstraint(
            condition=Q(discount_percent_off__isnull=False)
            | Q(discount_amount_off__isnull=False)
            | Q(discount_rules__isnull=False)
            | Q(discount_currency__isnull=True, discount_min_order_amount__isnull=True),
            name=f"{table}_discount_parts_need_a_discount",
        ),
    ]


class Campaign(models.Model):
    """Its codes are coupons with `campaign_id`; they take its discount, and every
    redemption of one moves the counters here in the same transaction
    (coupons.services.campaign_redemptions)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=MAX_CAMPAIGN_NAME_LENGTH)
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    discount_percent_off = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    discount_amount_off = models.BigIntegerField(null=True, blank=True)
    discount_currency = models.CharField(  # noqa: DJ001 - NULL: no currency, not ""
        max_length=CURRENCY_LENGTH, null=True, blank=True
    )
    discount_max_amount_off = models.BigIntegerField(null=True, blank=True)
    discount_min_order_amount = models.BigIntegerField(null=True, blank=True)
    # The discount's targeting (coupons.domain.discounts.targeting_json); NULL: none.
    discount_rules = models.JSONField(null=True, blank=True)
    # Limits across all its codes: a customer's live redemptions (and, later, holds), and
    # live redemptions plus holds overall. NULL: no limit.
    per_customer_limit = models.IntegerField(null=True, blank=True)
    max_redemptions = models.IntegerField(null=True, blank=True)
    # At most this much discount in total, in the discount's currency. NULL: no budget.
    budget_amount = models.BigIntegerField(null=True, blank=True)
    budget_currency = models.CharField(  # noqa: DJ001 - NULL: no budget, not ""
        max_length=CURRENCY_LENGTH, null=True, blank=True
    )
    # The counters: changed only in SQL, in the transaction of the redemption or revert.
    redemption_count = models.IntegerField(default=0)
    held_count = models.IntegerField(default=0)
    discount_total = models.BigIntegerField(default=0)
    metadata = metadata_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="campaign_name_not_empty"),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(expires_at__isnull=True)
                | Q(starts_at__lt=F("expires_at")),
                name="campaign_window_starts_before_it_expires",
            ),
            models.CheckConstraint(
                condition=Q(per_customer_limit__isnull=True)
                | Q(per_customer_limit__gte=1, per_customer_limit__lte=MAX_INIT_COUNT),
                name="campaign_per_customer_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True)
                | Q(max_redemptions__gte=1, max_redemptions__lte=MAX_INIT_COUNT),
                name="campaign_max_redemptions_positive",
            ),
            models.CheckConstraint(
                condition=Q(redemption_count__gte=0, held_count__gte=0, discount_total__gte=0),
                name="campaign_counters_not_negative",
            ),
            # Never past capacity, never past budget: the last line of defence behind the
            # conditional UPDATEs of a redemption.
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True)
                | Q(max_redemptions__gte=F("redemption_count") + F("held_count")),
                name="campaign_within_max_redemptions",
            ),
            models.CheckConstraint(
                condition=Q(budget_amount__isnull=True) | Q(discount_total__lte=F("budget_amount")),
                name="campaign_within_budget",
            ),
            models.CheckConstraint(
                condition=amount_in_range("budget_amount"), name="campaign_budget_in_range"
            ),
            # A budget is counted in the discount's currency: both or neither, and the same.
            models.CheckConstraint(
                condition=Q(budget_amount__isnull=True, budget_currency__isnull=True)
                | Q(budget_amount__isnull=False, budget_currency=F("discount_currency")),
                name="campaign_budget_in_the_discount_currency",
            ),
            *_discount_constraints("campaign"),
        ]
        indexes = [
            models.Index(F("created_at").desc(), F("id").desc(), name="campaign_newest_first"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def discount(self) -> Discount | None:
        return discount_from_columns(
            {f"discount_{name}": getattr(self, f"discount_{name}") for name in DISCOUNT_COLUMNS}
        )

    @property
    def budget(self) -> dict[str, object] | None:
        if self.budget_amount is None:
            return None
        return {"amount": self.budget_amount, "currency": self.budget_currency}

    @property
    def budget_remaining(self) -> int | None:
        return None if self.budget_amount is None else self.budget_amount - self.discount_total

    @property
    def remaining_count(self) -> int | None:
        """Capacity left (None: no max_redemptions), the counterpart of a coupon's."""
        if self.max_redemptions is None:
            return None
        return self.max_redemptions - self.redemption_count - self.held_count


class CampaignCustomer(models.Model):
    """A customer's live redemptions across one campaign's codes: the counter its
    `per_customer_limit` is checked against, by a conditional upsert whose row count
    decides (coupons.db.campaign_sql). Kept for every customer id that redeems a code of
    the campaign, limit or not, so that a limit set later finds the counts right."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    customer_id = models.CharField(max_length=MAX_CUSTOMER_ID_LENGTH)
    live_count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer_id"], name="campaign_customer_unique"
            ),
            models.CheckConstraint(
                condition=Q(live_count__gte=0), name="campaign_customer_count_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.live_count}"
