"""The coupon table and its redemptions: the invariants the database itself enforces."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Upper

from access.models import ApiKey
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Discount, discount_from_columns
from coupons.domain.limits import (
    MAX_CODE_LENGTH,
    MAX_CUSTOMER_ID_LENGTH,
    MAX_INIT_COUNT,
    MAX_ORDER_ID_LENGTH,
)
from coupons.models.campaign import DISCOUNT_COLUMNS, Campaign
from coupons.models.columns import CURRENCY_LENGTH, amount_in_range, metadata_field

_amount_in_range = amount_in_range
_metadata_field = metadata_field

# `code__upper="PIOTR"` compiles to UPPER("code") = 'PIOTR', the very expression of the
# unique index, so a case-insensitive lookup is an index lookup.
models.CharField.register_lookup(Upper)


class CouponQuerySet(models.QuerySet["Coupon"]):
    def with_code(self, code: str) -> CouponQuerySet:
        key = lookup_key(code)
        return self.none() if key is None else self.filter(code__upper=key)

    def exhausted(self) -> CouponQuerySet:
        return self.filter(remaining_count=0)

    def redeemable(self, now: datetime) -> CouponQuerySet:
        """Coupons that may be spent at `now`: `coupons.domain.rules.refusal_for` as a
        filter (pinned to it by tests/coupons/domain/test_redeemable_rule.py)."""
        return self.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=now),
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            is_active=True,
            remaining_count__gt=0,
        )


class Coupon(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=MAX_CODE_LENGTH)
    init_count = models.IntegerField()
    remaining_count = models.IntegerField()
    # Uses taken by holds not yet confirmed, released or expired-and-returned (included in
    # init_count - remaining_count). db_default: the batch INSERT names its columns.
    held_count = models.IntegerField(default=0, db_default=0)
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    per_customer_limit = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The discount (coupons.domain.discounts), all NULL for a code that only counts uses.
    # Columns rather than one JSON value: the database checks the rules below, and a
    # redemption's one statement computes the discount from them (coupons.db.discount_sql).
    discount_percent_off = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    discount_amount_off = models.BigIntegerField(null=True, blank=True)
    discount_currency = models.CharField(  # noqa: DJ001 - NULL: no currency, not ""
        max_length=CURRENCY_LENGTH, null=True, blank=True
    )
    discount_max_amount_off = models.BigIntegerField(null=True, blank=True)
    discount_min_order_amount = models.BigIntegerField(null=True, blank=True)
    # The discount's targeting (coupons.domain.discounts.targeting_json); NULL: none. A
    # redemption's one statement takes only coupons without it (coupons.db.raw).
    discount_rules = models.JSONField(null=True, blank=True)
    metadata = _metadata_field()
    # Its campaign, whose discount, window, flags and limits apply as well as its own.
    # PROTECT: deleting a campaign deletes its codes first (coupons.services.campaigns).
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="coupons"
    )

    objects = CouponQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Upper("code"), name="coupon_code_unique_ignoring_case"),
            models.CheckConstraint(
                condition=Q(init_count__gte=1, init_count__lte=MAX_INIT_COUNT),
                name="coupon_init_count_in_range",
            ),
            models.CheckConstraint(
                condition=Q(remaining_count__gte=0, remaining_count__lte=F("init_count")),
                name="coupon_remaining_count_within_init_count",
            ),
            models.CheckConstraint(
                condition=Q(
                    held_count__gte=0, held_count__lte=F("init_count") - F("remaining_count")
                ),
                name="coupon_held_count_within_used",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(expires_at__isnull=True)
                | Q(starts_at__lt=F("expires_at")),
                name="coupon_window_starts_before_it_expires",
            ),
            models.CheckConstraint(
                condition=Q(per_customer_limit__isnull=True) | Q(per_customer_limit__gte=1),
                name="coupon_per_customer_limit_positive",
            ),
            # The discount's rules (coupons.domain.discounts.discount_problems) that a row
            # can break; the currency's code is checked by the API, not here.
            models.CheckConstraint(
                condition=Q(discount_percent_off__isnull=True)
                | Q(discount_amount_off__isnull=True),
                name="coupon_discount_percent_or_amount",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent_off__isnull=True)
                | Q(discount_percent_off__gt=0, discount_percent_off__lte=100),
                name="coupon_discount_percent_in_range",
            ),
            models.CheckConstraint(
                condition=_amount_in_range("discount_amount_off"),
                name="coupon_discount_amount_off_in_range",
            ),
            models.CheckConstraint(
                condition=_amount_in_range("discount_max_amount_off"),
                name="coupon_discount_max_amount_off_in_range",
            ),
            models.CheckConstraint(
                condition=_amount_in_range("discount_min_order_amount"),
                name="coupon_discount_min_order_amount_in_range",
            ),
            models.CheckConstraint(
                condition=Q(discount_currency__isnull=False)
                | Q(
                    discount_amount_off__isnull=True,
                    discount_max_amount_off__isnull=True,
                    discount_min_order_amount__isnull=True,
                ),
                name="coupon_discount_currency_where_needed",
            ),
            # With targeting (`discount_rules`), an amount_off may take a cap (allocation
            # each), and a buy X get Y has neither percent nor amount: the domain checks.
            models.CheckConstraint(
                condition=Q(discount_max_amount_off__isnull=True)
                | Q(discount_percent_off__isnull=False)
                | Q(discount_rules__isnull=False),
                name="coupon_discount_max_only_with_percent",
            ),
            # A currency or a minimum alone would be a discount of nothing.
            models.CheckConstraint(
                condition=Q(discount_percent_off__isnull=False)
                | Q(discount_amount_off__isnull=False)
                | Q(discount_rules__isnull=False)
                | Q(discount_currency__isnull=True, discount_min_order_amount__isnull=True),
                name="coupon_discount_parts_need_a_discount",
            ),
            # A code of a campaign takes the campaign's discount, never one of its own.
            models.CheckConstraint(
                condition=Q(campaign__isnull=True)
                | Q(
                    discount_percent_off__isnull=True,
                    discount_amount_off__isnull=True,
                    discount_currency__isnull=True,
                    discount_max_amount_off__isnull=True,
                    discount_min_order_amount__isnull=True,
                    discount_rules__isnull=True,
                ),
                name="coupon_in_a_campaign_has_no_discount",
            ),
        ]
        indexes = [
            # The list's order (newest first) and its cursor pages.
            models.Index(F("created_at").desc(), F("id").desc(), name="coupon_newest_first"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def used_count(self) -> int:
        return self.init_count - self.remaining_count

    @property
    def discount(self) -> Discount | None:
        return discount_from_columns(
            {f"discount_{name}": getattr(self, f"discount_{name}") for name in DISCOUNT_COLUMNS}
        )


class Redemption(models.Model):
    """One use of a coupon: the audit trail. Reverting keeps the row and stamps it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    # NULL, not "": the API's `null` means "not given", and "" is not a valid id.
    customer_id = models.CharField(max_length=MAX_CUSTOMER_ID_LENGTH, null=True, blank=True)  # noqa: DJ001
    order_id = models.CharField(max_length=MAX_ORDER_ID_LENGTH, null=True, blank=True)  # noqa: DJ001
    # The coupon's remaining_count right after this redemption, as its answer said.
    remaining_after = models.IntegerField()
    redeemed_at = models.DateTimeField()
    reverted_at = models.DateTimeField(null=True, blank=True)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The order as the redemption was given it, and the discount it took (kept on revert).
    order_amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(  # noqa: DJ001 - NULL: no order given, not ""
        max_length=CURRENCY_LENGTH, null=True, blank=True
    )
    discount_amount = models.BigIntegerField(null=True, blank=True)
    metadata = _metadata_field()
    # An order with lines as priced (coupons.domain.orders.line_json, defaults included),
    # its shipping, and where the discount went (NULL: none sent, or none computed).
    # JSON on the row rather than a table of lines: one INSERT however many lines.
    order_lines = models.JSONField(null=True, blank=True)
    shipping_amount = models.BigIntegerField(null=True, blank=True)
    allocations = models.JSONField(null=True, blank=True)
    shipping_discount_amount = models.BigIntegerField(null=True, blank=True)
    # The group of codes it was redeemed with on one order (NULL: redeemed alone).
    group = models.ForeignKey(
        "coupons.RedemptionGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
    )
    group_position = models.PositiveSmallIntegerField(null=True, blank=True)  # applied nth

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(reverted_at__isnull=True) | Q(reverted_at__gte=F("redeemed_at")),
                name="redemption_reverted_after_redeemed",
            ),
            models.CheckConstraint(
                condition=Q(remaining_after__gte=0), name="redemption_remaining_after_not_negative"
            ),
            models.CheckConstraint(
                condition=_amount_in_range("order_amount"),
                name="redemption_order_amount_in_range",
            ),
            # An order is an amount in a currency: both or neither.
            models.CheckConstraint(
                condition=Q(order_amount__isnull=True, currency__isnull=True)
                | Q(order_amount__isnull=False, currency__isnull=False),
                name="redemption_order_has_a_currency",
            ),
            # The shipping's part of a discount is off the shipping, not the amount.
            models.CheckConstraint(
                condition=Q(discount_amount__isnull=True)
                | Q(
                    order_amount__isnull=False,
                    discount_amount__gte=0,
                    discount_amount__lte=F("order_amount")
                    + Coalesce("shipping_discount_amount", Value(0)),
                ),
                name="redemption_discount_within_the_order",
            ),
            models.CheckConstraint(
                condition=_amount_in_range("shipping_amount")
                & (
                    Q(shipping_discount_amount__isnull=True)
                    | Q(
                        shipping_discount_amount__gte=0,
                        shipping_discount_amount__lte=Coalesce("shipping_amount", Value(0)),
                    )
                ),
                name="redemption_shipping_discount_within_the_shipping",
            ),
        ]
        indexes = [
            models.Index(
                "coupon", F("redeemed_at").desc(), F("id").desc(), name="redemption_coupon_newest"
            ),
            models.Index(F("redeemed_at").desc(), F("id").desc(), name="redemption_newest"),
            models.Index(
                "customer_id", F("redeemed_at").desc(), F("id").desc(), name="redemption_customer"
            ),
            # The per-customer limit counts live redemptions of one customer on one coupon
            # (and, under a campaign's row lock, on all of the campaign's codes).
            models.Index(
                fields=["coupon", "customer_id"],
                condition=Q(reverted_at__isnull=True),
                name="redemption_live_by_customer",
            ),
            # Staff look a redemption up by its order in the admin.
            models.Index(
                fields=["order_id"], condition=Q(order_id__isnull=False), name="redemption_order"
            ),
            # Reports (coupons.services.reports): a coupon's redemptions in a range of time,
            # with what they count, read from the index alone.
            models.Index(
                fields=["coupon", "redeemed_at"],
                include=["reverted_at", "discount_amount", "order_amount", "customer_id"],
                name="redemption_report",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} at {self.redeemed_at:%Y-%m-%d %H:%M:%S}"

    @property
    def is_reverted(self) -> bool:
        return self.reverted_at is not None
