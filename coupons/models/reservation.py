"""The reservation table: a use of a coupon held during payment, until it is confirmed
(a redemption), released or expired; its counters move in SQL with it
(coupons.services.reservations)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from coupons.domain.limits import MAX_CUSTOMER_ID_LENGTH, MAX_ORDER_ID_LENGTH
from coupons.models.columns import CURRENCY_LENGTH, amount_in_range, metadata_field


class ReservationStatus(models.TextChoices):
    HELD = "held", "held"
    CONFIRMED = "confirmed", "confirmed"
    RELEASED = "released", "released"
    EXPIRED = "expired", "expired"


class Reservation(models.Model):
    """A hold takes what a redemption takes (a use, a customer slot, campaign capacity and
    budget); `held` rows are the holds the invariant counts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    coupon = models.ForeignKey(
        "coupons.Coupon", on_delete=models.PROTECT, related_name="reservations"
    )
    customer_id = models.CharField(max_length=MAX_CUSTOMER_ID_LENGTH, null=True, blank=True)  # noqa: DJ001
    order_id = models.CharField(max_length=MAX_ORDER_ID_LENGTH, null=True, blank=True)  # noqa: DJ001
    order_amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(  # noqa: DJ001 - NULL: no order given, not ""
        max_length=CURRENCY_LENGTH, null=True, blank=True
    )
    discount_amount = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.HELD
    )
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField()
    # When its use was given back (released or expired); NULL while held or once confirmed.
    returned_at = models.DateTimeField(null=True, blank=True)
    redemption = models.OneToOneField(
        "coupons.Redemption",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reservation",
    )
    api_key = models.ForeignKey(
        "access.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    metadata = metadata_field()
    # As a redemption's (coupons.models.coupon.Redemption): the order as priced and where
    # the discount went.
    order_lines = models.JSONField(null=True, blank=True)
    shipping_amount = models.BigIntegerField(null=True, blank=True)
    allocations = models.JSONField(null=True, blank=True)
    shipping_discount_amount = models.BigIntegerField(null=True, blank=True)
    # The group of codes it was held with on one order (NULL: held alone).
    group = models.ForeignKey(
        "coupons.ReservationGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reservations",
    )
    group_position = models.PositiveSmallIntegerField(null=True, blank=True)  # applied nth

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReservationStatus.values),
                name="reservation_status_known",
            ),
            # Confirmed exactly when it has its redemption; returned exactly when given back.
            models.CheckConstraint(
                condition=Q(status=ReservationStatus.CONFIRMED, redemption__isnull=False)
                | (~Q(status=ReservationStatus.CONFIRMED) & Q(redemption__isnull=True)),
                name="reservation_confirmed_has_redemption",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[ReservationStatus.RELEASED, ReservationStatus.EXPIRED],
                    returned_at__isnull=False,
                )
                | Q(
                    status__in=[ReservationStatus.HELD, ReservationStatus.CONFIRMED],
                    returned_at__isnull=True,
                ),
                name="reservation_returned_when_given_back",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="reservation_expires_later"
            ),
            models.CheckConstraint(
                condition=amount_in_range("order_amount"),
                name="reservation_order_amount_in_range",
            ),
            models.CheckConstraint(
                condition=Q(order_amount__isnull=True, currency__isnull=True)
                | Q(order_amount__isnull=False, currency__isnull=False),
                name="reservation_order_has_a_currency",
            ),
        ]
        indexes = [
            # The sweeper's and the reclaim's question: held holds past their expiry.
            models.Index(
                fields=["expires_at"],
                condition=Q(status=ReservationStatus.HELD),
                name="reservation_held_expiry",
            ),
            # A coupon's per-customer limit counts a customer's held holds.
            models.Index(
                fields=["coupon", "customer_id"],
                condition=Q(status=ReservationStatus.HELD),
                name="reservation_held_by_customer",
            ),
            # Reports (coupons.services.reports): a coupon's holds taken in a range of time.
            models.Index(
                fields=["coupon", "created_at"],
                include=["status", "expires_at"],
                name="reservation_report",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} {self.status} until {self.expires_at:%Y-%m-%d %H:%M:%S}"
