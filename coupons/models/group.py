"""Several codes redeemed on one order, all or none: the group its redemptions belong to."""

from __future__ import annotations

import uuid

from django.db import models

from coupons.domain.limits import MAX_CUSTOMER_ID_LENGTH, MAX_ORDER_ID_LENGTH
from coupons.models.columns import CURRENCY_LENGTH, metadata_field


class RedemptionGroup(models.Model):
    """The order as priced once for all its codes, and the combined discount; each code's
    part is its member redemption's (`Redemption.group`)."""

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
        constraints = [
            models.CheckConstraint(
                condition=models.Q(order_amount__isnull=True, currency__isnull=True)
                | models.Q(order_amount__isnull=False, currency__isnull=False),
                name="redemption_group_order_has_a_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"group {self.id}"
