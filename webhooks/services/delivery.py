"""Webhook delivery, run by the worker (coupons.tasks): fan new events out to the endpoints
that want them, claim due deliveries, POST them signed, record each attempt, retry with
backoff for 24 hours, and disable an endpoint that failed for 24 hours.

At least once, never lost: a delivery is claimed with a lease (`locked_until`) committed
BEFORE its HTTP call, so a worker killed mid-delivery leaves a delivery that is due again
once the lease runs out. Claims use FOR UPDATE SKIP LOCKED, so two workers never take the
same delivery while a lease holds. Every function takes `now` so tests set the clock.

In order, one at a time per endpoint, many endpoints at once: an endpoint's next delivery
is its due one first in the log's order (`sequence`), and none is claimed while another
of the same endpoint is leased (in flight, in any worker). Different endpoints' deliveries
run concurrently (at most MAX_IN_FLIGHT per worker), each within one deadline, so a slow
receiver holds up only its own endpoint. A failed delivery waits for its retry while the
endpoint's later ones go on: a retry arrives after events that came later in the log.
"""

from __future__ import annotations

import json
import random
import ssl
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from events.models import Event
from events.services.log import EventCursor, events_after
from events.shapes import EVENT
from webhooks.models import (
    TEST_EVENT_TYPE,
    DeliveryStatus,
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.services.transport import TIMEOUT_SECONDS, Outcome, Sender

# A claimed delivery is POSTed at once, within TIMEOUT_SECONDS: the lease
# (WEBHOOK_LEASE_SECONDS, 60) outlasts it, so a live worker's claim does not run out under
# it; a killed worker's deliveries are due again once it has.
CLAIM_BATCH = 5
# Deliveries in flight at once in one worker, each to a different endpoint.
MAX_IN_FLIGHT = 16
# One call of deliver_due_webhooks claims at most this many, and for at most this long
# (then waits for those in flight, at most one deadline), and lets the worker loop on.
MAX_DELIVERIES_PER_CALL = 200
CLAIM_FOR_SECONDS = 30.0
FAN_OUT_BATCH = 500
RETRY_FOR = timedelta(hours=24)
DISABLE_AFTER = timedelta(hours=24)
FIRST_RETRY_SECONDS = 20.0
MAX_RETRY_SECONDS = 3600.0


def lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def retry_delay(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait after failed attempt number `attempt`: doubling from 20 s, at most an hour,
    times a random 0.75-1.25 (jitter, so a recovered receiver is not hit by every retry
    at once). The first retry comes within 25 s (the contract: within 30)."""
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempt - 1))
    return timedelta(seconds=base * (rng or random).uniform(0.75, 1.25))


# --- Fan-out -------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: uuid.UUID
    attempt: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


def claim_due_deliveries(*, now: datetime, limit: int = CLAIM_BATCH) -> list[Claim]:
    """Take up to `limit` due deliveries, at most one per endpoint, and lease them;
    committed when this returns, before any HTTP call, so no transaction stays open across
    the network. An endpoint's is its due delivery first in the log's order, and none
    while one of its deliveries is leased (in flight here or in another worker)."""
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
    head = (
        pending.filter(endpoint=OuterRef("pk"), next_attempt_at__lte=now)
        .order_by("sequence")
        .values("pk")[:1]
    )
    in_flight = pending.filter(endpoint=OuterRef("pk"), locked_until__gt=now)
    heads = (
        WebhookEndpoint.objects.filter(~Exists(in_flight), is_active=True)
        .annotate(head=Subquery(head))
        .filter(head__isnull=False)
        .values("head")
    )
    with transaction.atomic():
        # Two workers may pick the same head: SKIP LOCKED gives it to one, and the other
        # re-checks the row once it is free (READ COMMITTED), finds it leased or done, and
        # takes nothing of that endpoint this time, never the delivery after it.
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "event")
            .filter(
                Q(locked_until__isnull=True) | Q(locked_until__lte=now),
                pk__in=heads,
                status=DeliveryStatus.PENDING,
                next_attempt_at__lte=now,
            )
            .order_by("next_attempt_at", "sequence")[:limit]
        )
        leased = [delivery.pk for delivery in due]
        WebhookDelivery.objects.filter(pk__in=leased).update(locked_until=now + lease())
    return [_claim_of(delivery) for delivery in due]


def _claim_of(delivery: WebhookDelivery) -> Claim:
    # The event as GET /v1/events/{id}/ answers it: the one EVENT shape.
    payload = delivery.test_payload if delivery.event is None else EVENT(delivery.event)
    return Claim(
        delivery_id=delivery.id,
        attempt=delivery.attempt_count + 1,
        url=delivery.endpoint.url,
        secret=delivery.endpoint.secret,
        event_id=str(delivery.event_key),
        event_type=delivery.event_type,
        body=json.dumps(payload, separators=(",", ":")).encode(),
    )


def record_attempt(claim: Claim, outcome: Outcome, *, now: datetime) -> None:
    """The attempt's result, and what follows: done, the next attempt scheduled, the
    delivery given up after 24 hours, or its endpoint disabled after 24 hours of failures.
    A result that comes after another worker already recorded this attempt (our lease ran
    out under us) is dropped: the receiver got it at least once either way."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(pk=claim.delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None or delivery.attempt_count != claim.attempt - 1:
            return
        status = DeliveryStatus.SUCCEEDED if outcome.delivered else DeliveryStatus.FAILED
        next_at = None if outcome.delivered else _after_failure(delivery, claim.attempt, now)
        WebhookAttempt.objects.update_or_create(
            delivery=delivery,
            attempt=claim.attempt,
            defaults={"status": status, "response_status": outcome.response_status,
                      "duration_ms": outcome.duration_ms, "error": outcome.error[:500],
                      "attempted_at": now, "next_attempt_at": next_at},
            create_defaults={"endpoint_id": delivery.endpoint_id, "created_at": now,
                             "status": status, "response_status": outcome.response_status,
                             "duration_ms": outcome.duration_ms, "error": outcome.error[:500],
                             "attempted_at": now, "next_attempt_at": next_at},
        )  # fmt: skip
        delivery.attempt_count = claim.attempt
        delivery.locked_until = None
        delivery.next_attempt_at = next_at
        if outcome.delivered:
            delivery.status = DeliveryStatus.SUCCEEDED
            WebhookEndpoint.objects.filter(
                pk=delivery.endpoint_id, failing_since__isnull=False
            ).update(failing_since=None)
        elif next_at is None:
            delivery.status = DeliveryStatus.FAILED
        else:
            WebhookAttempt.objects.create(
                delivery=delivery, endpoint_id=delivery.endpoint_id, attempt=claim.attempt + 1,
                next_attempt_at=next_at, created_at=now,
            )  # fmt: skip
        delivery.save(update_fields=["attempt_count", "locked_until", "next_attempt_at", "status"])


def _after_failure(delivery: WebhookDelivery, attempt: int, now: datetime) -> datetime | None:
    """When to try again, or None: given up (24 hours), or the endpoint disabled."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    elif now - endpoint.failing_since >= DISABLE_AFTER:
        _disable(endpoint, now=now, skip=delivery.pk)
        return None
    if now - delivery.created_at >= RETRY_FOR:
        return None
    return now + retry_delay(attempt)


def _disable(endpoint: WebhookEndpoint, *, now: datetime, skip: uuid.UUID) -> None:
    since = endpoint.failing_since or now
    endpoint.is_active = False
    endpoint.disabled_reason = (
        f"Every delivery failed from {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC to "
        f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC (24 hours); re-enable it once it answers."
    )
    endpoint.save(update_fields=["is_active", "disabled_reason"])
    # Its other pending deliveries stop with it; re-enabling starts from new events. Lock
    # order is delivery, then endpoint (record_attempt): one whose row another worker holds
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


def deliver_due_webhooks(
    *,
    now: datetime | None = None,
    deadline: float = TIMEOUT_SECONDS,
    verify: ssl.SSLContext | bool = True,
) -> int:
    """Fan out new events and send what is due, at most MAX_IN_FLIGHT at once, until
    nothing is due or in flight (or the call's budget is spent); how many attempts were
    made. Every attempt ends within `deadline` seconds. `now` fixes the clock (tests);
    otherwise it is read at each step. `verify`: the TLS trust (tests)."""

    def clock() -> datetime:
        return now or timezone.now()

    started = fan_out_at = time.monotonic()
    claimed = attempts = 0
    in_flight: dict[Future[Outcome], Claim] = {}
    with Sender(deadline=deadline, verify=verify) as sender:
        while True:
            claiming = (
                claimed < MAX_DELIVERIES_PER_CALL and time.monotonic() - started < CLAIM_FOR_SECONDS
            )
            free = min(MAX_IN_FLIGHT - len(in_flight), MAX_DELIVERIES_PER_CALL - claimed)
            if claiming and time.monotonic() >= fan_out_at:
                while fan_out_events(now=clock()) == FAN_OUT_BATCH:
                    pass
                fan_out_at = time.monotonic() + settings.WEBHOOK_INTERVAL_SECONDS
            if claiming and free > 0:
                for claim in claim_due_deliveries(now=clock(), limit=free):
                    future = sender.send(
                        url=claim.url, secret=claim.secret, body=claim.body,
                        event_id=claim.event_id, event_type=claim.event_type,
                    )  # fmt: skip
                    in_flight[future] = claim
                    claimed += 1
            if not in_flight:
                break
            # Woken by an attempt that ended, or after a while to claim what came due
            # meanwhile (another endpoint's delivery is not held up by a slow one).
            done, _ = wait(
                in_flight, timeout=settings.WEBHOOK_INTERVAL_SECONDS, return_when=FIRST_COMPLETED
            )
            for future in done:
                record_attempt(in_flight.pop(future), future.result(), now=clock())
                attempts += 1
    return attempts
