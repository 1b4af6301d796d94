"""The fan-out: new events of the log become deliveries to the endpoints that want them,
numbered in the log's order (`sequence`) under the cursor's lock; and a test event queued for
one endpoint. Delivery itself is webhooks.services.delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from events.models import Event
from events.services.log import EventCursor, events_after
from webhooks.models import (
    TEST_EVENT_TYPE,
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)

FAN_OUT_BATCH = 500


def _wants(endpoint: WebhookEndpoint, event: Event) -> bool:
    return endpoint.created_at <= event.created_at and (
        "*" in endpoint.events or event.type in endpoint.events
    )


def fan_out_events(*, now: datetime | None = None, limit: int = FAN_OUT_BATCH) -> int:
    """One delivery per (active endpoint, new event it wants), with its first attempt
    scheduled; how many events were read. Exactly once across workers: the cursor row is
    locked FOR UPDATE for the whole read-insert-advance, so a second worker waits and then
    reads from where the first left off (and the unique (endpoint, event) backs it)."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor = _locked_cursor()
        # The log's one reader (events.services.log): never passes a late commit.
        batch, after = events_after(EventCursor(cursor.txid, cursor.position), limit=limit)
        if not batch:
            return 0
        endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
        deliveries = [
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                next_attempt_at=now,
                created_at=now,
            )
            for event in batch
            for endpoint in endpoints
            if _wants(endpoint, event)
        ]
        # Numbered in the log's order: every delivery of this batch shares `now`.
        for number, delivery in enumerate(deliveries, start=cursor.sequence + 1):
            delivery.sequence = number
        WebhookDelivery.objects.bulk_create(deliveries)
        WebhookAttempt.objects.bulk_create(_first_attempt(d, now) for d in deliveries)
        cursor.txid, cursor.position = after.txid, after.position
        cursor.sequence += len(deliveries)
        cursor.save(update_fields=["txid", "position", "sequence"])
    return len(batch)


def _locked_cursor() -> WebhookCursor:
    WebhookCursor.objects.bulk_create([WebhookCursor(id=1)], ignore_conflicts=True)
    return WebhookCursor.objects.select_for_update().get(id=1)


def _first_attempt(delivery: WebhookDelivery, now: datetime) -> WebhookAttempt:
    return WebhookAttempt(
        delivery=delivery,
        endpoint_id=delivery.endpoint_id,
        attempt=1,
        next_attempt_at=delivery.next_attempt_at,
        created_at=now,
    )


def queue_test_delivery(endpoint_id: uuid.UUID, *, now: datetime | None = None) -> uuid.UUID:
    """A `webhook.test` delivery to one endpoint: a payload of its own, never an event of
    the log (GET /v1/events/ shows only real changes). Sent by the worker like any other."""
    now = now or timezone.now()
    test_id = uuid.uuid4()
    payload = {
        "id": str(test_id),
        "type": TEST_EVENT_TYPE,
        "created_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": {"endpoint_id": str(endpoint_id)},
    }
    with transaction.atomic():
        # Its place in the endpoint's order: after what has been fanned out so far.
        cursor = _locked_cursor()
        cursor.sequence += 1
        cursor.save(update_fields=["sequence"])
        delivery = WebhookDelivery.objects.create(
            endpoint_id=endpoint_id, test_payload=payload, next_attempt_at=now,
            created_at=now, sequence=cursor.sequence,
        )  # fmt: skip
        _first_attempt(delivery, now).save()
    return test_id


# --- Claim, send, record -------------------------------------------------------------------
