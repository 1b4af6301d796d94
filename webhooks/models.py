"""Webhook endpoints and the state of their deliveries (webhooks.services.endpoints).

A delivery is one (endpoint, event) to send, with its claim (`locked_until`, a lease);
an attempt is one POST of it, or the next one scheduled (status pending, not attempted
yet), so an endpoint's delivery log is one table read newest first.
"""

from __future__ import annotations

import uuid

from django.db import models

from events.models import Event

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
TEST_EVENT_TYPE = "webhook.test"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=MAX_URL_LENGTH)
    # ["*"], or event types of events.types.EVENT_TYPES.
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=MAX_DESCRIPTION_LENGTH, blank=True, default="")
    # null while not disabled by the service: the contract's `disabled_reason: null`.
    disabled_reason = models.CharField(  # noqa: DJ001
        max_length=MAX_DESCRIPTION_LENGTH, null=True, blank=True
    )
    # Stored as given, not encrypted with a key derived from SECRET_KEY: signing needs the
    # secret itself, so whoever reads this table with the service's credentials could also
    # decrypt it (the key lives beside it), and a rotated SECRET_KEY would silently break
    # every endpoint's signatures. The API shows it once; the admin never shows it.
    secret = models.CharField(max_length=100, editable=False)
    created_at = models.DateTimeField()
    # The first failure since the last success; 24 hours of that disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "coupons_webhookendpoint"  # kept from the coupons app (migrations 0011)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # null for a test delivery: its payload is in `test_payload`, never in the event log.
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    test_payload = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker's claim (one for its endpoint's whole batch): until then no other worker
    # takes it, nor any other delivery to its endpoint; after it (a worker killed
    # mid-batch), the delivery is due again.
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    # The endpoint's order, which is the event log's: numbered by the fan-out, in log
    # order, under the cursor's lock (WebhookCursor.sequence). 0: queued before 0011.
    sequence = models.BigIntegerField(default=0)

    class Meta:
        db_table = "coupons_webhookdelivery"  # kept from the coupons app (migrations 0011)
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="one_delivery_per_event")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
            # An endpoint's next delivery in log order (its head).
            models.Index(
                fields=["endpoint", "sequence"],
                name="webhook_delivery_order",
                condition=models.Q(status="pending"),
            ),
            # Whether an endpoint has a delivery in flight (few rows: leased ones).
            models.Index(
                fields=["endpoint"],
                name="webhook_delivery_leased",
                condition=models.Q(status="pending", locked_until__isnull=False),
            ),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id}"

    @property
    def event_key(self) -> uuid.UUID:
        if self.event_id is not None:
            return self.event_id
        return uuid.UUID((self.test_payload or {})["id"])

    @property
    def event_type(self) -> str:
        return self.event.type if self.event is not None else TEST_EVENT_TYPE


class WebhookAttempt(models.Model):
    """One POST of a delivery, or the next one scheduled (pending, `attempted_at` null)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    # Denormalized for the endpoint's log (one index, no join to page by).
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    attempt = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    response_status = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    attempted_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When it was scheduled: the log's order.
    created_at = models.DateTimeField()

    class Meta:
        db_table = "coupons_webhookattempt"  # kept from the coupons app (migrations 0011)
        constraints = [
            models.UniqueConstraint(fields=["delivery", "attempt"], name="one_row_per_attempt")
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_attempt_log")
        ]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.delivery_id}: {self.status}"


class WebhookCursor(models.Model):
    """One row: how far the fan-out has read the event log (its order: txid, position on
    PostgreSQL, rowid on SQLite). Locked FOR UPDATE by the fan-out, so two workers never
    fan out the same event."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    txid = models.BigIntegerField(default=0)
    position = models.BigIntegerField(default=0)
    # The last WebhookDelivery.sequence given out.
    sequence = models.BigIntegerField(default=0)

    class Meta:
        db_table = "coupons_webhookcursor"  # kept from the coupons app (migrations 0011)

    def __str__(self) -> str:
        return f"events read up to ({self.txid}, {self.position})"
