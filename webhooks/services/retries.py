"""What follows a failed delivery: retries with growing, jittered waits for 24 hours, and an
endpoint that failed every attempt for 24 hours disabled, its pending deliveries with it."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

RETRY_FOR = timedelta(hours=24)
DISABLE_AFTER = timedelta(hours=24)
FIRST_RETRY_SECONDS = 20.0
MAX_RETRY_SECONDS = 3600.0


def retry_delay(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait after failed attempt number `attempt`: doubling from 20 s, at most an hour,
    times a random 0.75-1.25 (jitter, so a recovered receiver is not hit by every retry
    at once). The first retry comes within 25 s (the contract: within 30)."""
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempt - 1))
    return timedelta(seconds=base * (rng or random).uniform(0.75, 1.25))


# --- Fan-out -------------------------------------------------------------------------------


def reset_failing(endpoint_id: uuid.UUID) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=False).update(
        failing_since=None
    )


def after_failure(delivery: WebhookDelivery, attempt: int, now: datetime) -> datetime | None:
    """When to try again, or None: given up (24 hours), or the endpoint disabled."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    elif now - endpoint.failing_since >= DISABLE_AFTER:
        disable_endpoint(endpoint, now=now, skip=delivery.pk)
        return None
    if now - delivery.created_at >= RETRY_FOR:
        return None
    return now + retry_delay(attempt)


def disable_endpoint(endpoint: WebhookEndpoint, *, now: datetime, skip: uuid.UUID) -> None:
    since = endpoint.failing_since or now
    endpoint.is_active = False
    endpoint.disabled_reason = (
        f"Every delivery failed from {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC to "
        f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC (24 hours); re-enable it once it answers."
    )
    endpoint.save(update_fields=["is_active", "disabled_reason"])
    # Its other pending deliveries stop with it; re-enabling starts from new events. Lock
    # order is delivery, then endpoint (record_batch): one whose row another worker holds
    # while it records is skipped here, not waited for (that would deadlock), and that
    # worker then finds the endpoint failing for 24 hours and stops it itself.
    stopped_ids = list(
        WebhookDelivery.objects.select_for_update(skip_locked=True)
        .filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
        .exclude(pk=skip)
        .values_list("pk", flat=True)
    )
    stopped = WebhookDelivery.objects.filter(pk__in=stopped_ids)
    WebhookAttempt.objects.filter(
        delivery__in=stopped, status=DeliveryStatus.PENDING, attempted_at__isnull=True
    ).update(status=DeliveryStatus.FAILED, error="endpoint disabled", next_attempt_at=None)
    stopped.update(status=DeliveryStatus.FAILED, next_attempt_at=None, locked_until=None)
