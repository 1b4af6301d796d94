"""Several codes on one order, all or none: the group its redemptions (or its holds) belong
to, with the order as priced once for all its codes."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from coupons.domain.limits import MAX_CUSTOMER_ID_LENGTH, MAX_ORDER_ID_LENGTH
from coupons.models.columns import CURRENCY_LENGTH, metadata_field
from coupons.models.reservation import ReservationStatus


def _has_a_currency(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(order_amount__isnull=True, currency__isnull=True)
        | Q(order_amount__isnull=False, currency__isnull=False),
        name=name,
    )


class StackedOrder(models.Model):
    """The order as priced once for all the group's codes, and the combined discount; each
    code's part is its member's (a redemption's or a hold's `group`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    codes = models.JSONField()  # as sent, in the order sent
    customer_id = models.CharField(max_length=MAX_CUSTOMER_ID_LENGTH, null=True, blank=True)  # noqa: DJ001
    order_id = models.CharField(max_length=MAX_ORDER_ID_LENGTH, null=True, blank=True)  # noqa: DJ001
    order_amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=CURRENCY_LENGTH, null=True, blank=True)  # noqa: DJ001
    order_lines = models.JSONField(null=True, blank=True)
    shipping_amount = models.BigIntegerField(null=True, blank=True)
    discount_amount = models.BigIntegerField(null=True, blank=True)
    shipping_discount_amount = models.BigIntegerField(null=True, blank=True)
    allocations = models.JSONField(null=True, blank=True)
    metadata = metadata_field()
    created_at = models.DateTimeField()

    class Meta:
        abstract = True


class RedemptionGroup(StackedOrder):
    """Codes redeemed together (`Redemption.group`)."""

    class Meta:
        constraints = [_has_a_currency("redemption_group_order_has_a_currency")]

    def __str__(self) -> str:
        return f"group {self.id}"


class ReservationGroup(StackedOrder):
    """Codes held together (`Reservation.group`), confirmed into one redemption group or
    released together. `held` past `expires_at` reads as expired: its members are swept
    one by one like any hold, and the group row is left as it was."""

    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.HELD
    )
    expires_at = models.DateTimeField()
    redemption_group = models.OneToOneField(
        RedemptionGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reservation_group",
    )

    class Meta:
        constraints = [
            _has_a_currency("reservation_group_order_has_a_currency"),
            models.CheckConstraint(
                condition=Q(status__in=ReservationStatus.values),
                name="reservation_group_status_known",
            ),
            models.CheckConstraint(
                condition=Q(status=ReservationStatus.CONFIRMED, redemption_group__isnull=False)
                | (~Q(status=ReservationStatus.CONFIRMED) & Q(redemption_group__isnull=True)),
                name="reservation_group_confirmed_has_redemption_group",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="reservation_group_expires_later",
            ),
        ]

    def __str__(self) -> str:
        return f"held group {self.id}"
