"""Webhook delivery, run by the worker (webhooks.tasks): fan new events out to the endpoints
that want them, claim due deliveries, POST them signed, record each attempt, retry with
backoff for 24 hours, and disable an endpoint that failed for 24 hours.

At least once, never lost: deliveries are claimed with a lease (`locked_until`) committed
BEFORE their HTTP calls, so a worker killed mid-batch leaves deliveries that are due again
once the lease runs out. Claims lock the endpoint's row (SKIP LOCKED), so two workers never
take deliveries of one endpoint while a lease holds. Every function takes `now` so tests set
the clock.

In order, one at a time per endpoint, many endpoints at once: an endpoint's deliveries are
claimed as a batch, its first due ones in the log's order (`sequence`), and none while
another of the same endpoint is leased (in flight, in any worker); the batch is POSTed one
after another and recorded in one transaction, so a backlog costs two transactions per
batch, not two per delivery. Different endpoints' batches run concurrently (at most
MAX_IN_FLIGHT per worker), each attempt within one deadline, so a slow receiver holds up
only its own endpoint. A failed delivery ends its batch and waits for its retry while the
endpoint's later ones go on: a retry arrives after events that came later in the log.
"""

from __future__ import annotations

import json
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from events.shapes import EVENT
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.services.fanout import FAN_OUT_BATCH, fan_out_events
from webhooks.services.retries import after_failure, reset_failing
from webhooks.services.transport import TIMEOUT_SECONDS, Outcome, Post, Sender

# Endpoints claimed at once by one claim, and deliveries of each: its next BATCH due ones in
# the log's order, under one lease, sent one after another and recorded in one transaction
# (per batch: two transactions, not two per delivery).
CLAIM_BATCH = 5
BATCH = 20
# A batch's next attempt starts only if it and the batch's record end within the lease
# (WEBHOOK_LEASE_SECONDS, 60): a live worker's claim never runs out under it (a slow
# receiver's batch is cut short and the rest released); a killed worker's batch is due
# again once the lease has run out.
RECORD_WITHIN_SECONDS = 5.0
# Batches in flight at once in one worker, each to a different endpoint.
MAX_IN_FLIGHT = 16
# One call of deliver_due_webhooks claims at most this many, and for at most this long
# (then waits for those in flight, at most one deadline), and lets the worker loop on.
MAX_DELIVERIES_PER_CALL = 200
CLAIM_FOR_SECONDS = 30.0


def lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    attempt: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    # The lease this claim holds (the whole batch's): only the claimer releases it.
    leased_until: datetime

    def post(self) -> Post:
        return Post(self.url, self.secret, self.body, self.event_id, self.event_type)


def claim_due_deliveries(
    *, now: datetime, limit: int = CLAIM_BATCH, batch: int = BATCH
) -> list[list[Claim]]:
    """Take the due deliveries of up to `limit` endpoints, up to `batch` of each (its first
    due ones in the log's order), and lease each endpoint's under one lease; committed when
    this returns, before any HTTP call, so no transaction stays open across the network.
    Nothing of an endpoint while one of its deliveries is leased (in flight here or in
    another worker). One list per endpoint, in its order."""
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
    head = (
        pending.filter(endpoint=OuterRef("pk"), next_attempt_at__lte=now)
        .order_by("sequence")
        .values("next_attempt_at")[:1]
    )
    leased = pending.filter(endpoint=OuterRef("pk"), locked_until__gt=now)
    with transaction.atomic():
        # The endpoint's row is the claimers' mutex: one at a time per endpoint (a second
        # skips it), and the look at its leases below is a statement of its own, made
        # after the lock, so it sees any lease committed by the claimer before. Without
        # it, two workers whose clocks differ on whether a retry is due would each take
        # a batch of the same endpoint. NO KEY: the fan-out's inserts (FOR KEY SHARE on
        # the endpoint) do not wait for it.
        endpoint_ids = list(
            WebhookEndpoint.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(~Exists(leased), is_active=True)
            .annotate(due_since=Subquery(head))
            .filter(due_since__isnull=False)
            .order_by("due_since")
            .values_list("pk", flat=True)[:limit]
        )
        free = WebhookEndpoint.objects.filter(~Exists(leased), pk__in=endpoint_ids)
        ranked = list(
            pending.filter(endpoint__in=free, next_attempt_at__lte=now)
            .annotate(
                place=Window(RowNumber(), partition_by=F("endpoint"), order_by=F("sequence").asc())
            )
            .filter(place__lte=batch)
            .order_by("endpoint", "sequence")
            .values_list("pk", "endpoint")
        )
        lockable = WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        locked = {
            delivery.pk: delivery
            for delivery in lockable.select_related("endpoint", "event").filter(
                pk__in=[pk for pk, _ in ranked], status=DeliveryStatus.PENDING
            )
        }
        # A row locked by another transaction is being recorded by a worker whose lease ran
        # out: the endpoint's batch ends before it (a batch is a prefix of its order).
        batches: dict[uuid.UUID, list[WebhookDelivery]] = {}
        cut: set[uuid.UUID] = set()
        for pk, endpoint_id in ranked:
            if endpoint_id in cut:
                continue
            if pk not in locked:
                cut.add(endpoint_id)
                continue
            batches.setdefault(endpoint_id, []).append(locked[pk])
        leased_until = now + lease()
        WebhookDelivery.objects.filter(
            pk__in=[delivery.pk for taken in batches.values() for delivery in taken]
        ).update(locked_until=leased_until)
    return [[_claim_of(delivery, leased_until) for delivery in taken] for taken in batches.values()]


def _claim_of(delivery: WebhookDelivery, leased_until: datetime) -> Claim:
    # The event as GET /v1/events/{id}/ answers it: the one EVENT shape.
    payload = delivery.test_payload if delivery.event is None else EVENT(delivery.event)
    return Claim(
        delivery_id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        attempt=delivery.attempt_count + 1,
        url=delivery.endpoint.url,
        secret=delivery.endpoint.secret,
        event_id=str(delivery.event_key),
        event_type=delivery.event_type,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        leased_until=leased_until,
    )


def record_batch(
    claims: Sequence[Claim],
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    ended_at: Sequence[datetime] = (),
) -> None:
    """One endpoint's batch, in one transaction: the outcomes of the claims sent (the
    first `len(outcomes)`, in order; each attempt ended at `ended_at`'s time, else `now`),
    and what follows each (done, the next attempt scheduled, the delivery given up after 24
    hours, or its endpoint disabled after 24 hours of failures); the claims not sent are
    released, due again at once. A result that comes after another worker already
    recorded that attempt (our lease ran out under us) is dropped: the receiver got it at
    least once either way."""
    if not claims:
        return
    attempted = [*ended_at, *[now] * (len(outcomes) - len(ended_at))]
    with transaction.atomic():
        # Locked in one order (pk), so two recorders of the same rows never deadlock.
        deliveries = {
            delivery.pk: delivery
            for delivery in WebhookDelivery.objects.select_for_update()
            .filter(pk__in=[claim.delivery_id for claim in claims], status=DeliveryStatus.PENDING)
            .order_by("pk")
        }
        attempts: list[WebhookAttempt] = []
        changed: list[WebhookDelivery] = []
        succeeded_since_failure = False
        for claim, outcome, attempted_at in zip(claims, outcomes, attempted, strict=False):
            delivery = deliveries.get(claim.delivery_id)
            if delivery is None or delivery.attempt_count != claim.attempt - 1:
                continue
            next_at = None
            if outcome.delivered:
                delivery.status = DeliveryStatus.SUCCEEDED
                succeeded_since_failure = True
            else:
                if succeeded_since_failure:  # the run of failures starts again here
                    reset_failing(delivery.endpoint_id)
                    succeeded_since_failure = False
                next_at = after_failure(delivery, claim.attempt, now)
                if next_at is None:
                    delivery.status = DeliveryStatus.FAILED
                else:
                    scheduled = WebhookAttempt(
                        delivery=delivery, endpoint_id=delivery.endpoint_id,
                        attempt=claim.attempt + 1, next_attempt_at=next_at, created_at=now,
                    )  # fmt: skip
                    attempts.append(scheduled)
            attempts.append(
                _attempt_made(delivery, claim, outcome, at=attempted_at, next_at=next_at)
            )
            delivery.attempt_count = claim.attempt
            delivery.locked_until = None
            delivery.next_attempt_at = next_at
            changed.append(delivery)
        if succeeded_since_failure:
            reset_failing(claims[0].endpoint_id)
        # The attempt made is usually the pending row scheduled for it: updated in place.
        WebhookAttempt.objects.bulk_create(
            attempts,
            update_conflicts=True,
            unique_fields=["delivery", "attempt"],
            update_fields=[
                "status", "response_status", "duration_ms", "error", "attempted_at",
                "next_attempt_at",
            ],
        )  # fmt: skip
        WebhookDelivery.objects.bulk_update(
            changed, ["attempt_count", "locked_until", "next_attempt_at", "status"]
        )
        unsent = [claim.delivery_id for claim in claims[len(outcomes) :]]
        if unsent:
            WebhookDelivery.objects.filter(
                pk__in=unsent, status=DeliveryStatus.PENDING, locked_until=claims[0].leased_until
            ).update(locked_until=None)


def _attempt_made(
    delivery: WebhookDelivery,
    claim: Claim,
    outcome: Outcome,
    *,
    at: datetime,
    next_at: datetime | None,
) -> WebhookAttempt:
    return WebhookAttempt(
        delivery=delivery,
        endpoint_id=delivery.endpoint_id,
        attempt=claim.attempt,
        status=DeliveryStatus.SUCCEEDED if outcome.delivered else DeliveryStatus.FAILED,
        response_status=outcome.response_status,
        duration_ms=outcome.duration_ms,
        error=outcome.error[:500],
        attempted_at=at,
        next_attempt_at=next_at,
        created_at=at,
    )


def may_send_next(*, claimed_for: float, deadline: float, lease_seconds: float) -> bool:
    """Whether a batch claimed `claimed_for` seconds ago may start its next attempt: only if
    that attempt (at most `deadline` seconds) and the batch's record still end inside the
    lease, so that no other worker takes the batch while it is being sent."""
    return claimed_for + deadline + RECORD_WITHIN_SECONDS <= lease_seconds


def deliver_due_webhooks(
    *,
    now: datetime | None = None,
    deadline: float = TIMEOUT_SECONDS,
    verify: ssl.SSLContext | bool = True,
) -> int:
    """Fan out new events and send what is due, a batch per endpoint and at most
    MAX_IN_FLIGHT endpoints at once, until nothing is due or in flight (or the call's budget
    is spent); how many attempts were made. Every attempt ends within `deadline` seconds. A
    batch goes out one POST after another and stops at its first failure, when its lease
    could not cover one more attempt, or when the call stops claiming; then it is recorded
    in one transaction, its unsent rest released. `now` fixes the clock (tests); otherwise
    it is read at each step. `verify`: the TLS trust (tests)."""

    def clock() -> datetime:
        return now or timezone.now()

    started = fan_out_at = time.monotonic()
    stop_sending_at = started + CLAIM_FOR_SECONDS
    lease_seconds = lease().total_seconds()

    def go_on_after(claimed_at: float, ended_at: list[datetime]) -> Callable[[Outcome], bool]:
        # Called after each attempt of the batch (in the Sender's thread): when it ended.
        def go_on(outcome: Outcome) -> bool:
            ended_at.append(clock())
            at = time.monotonic()
            return (
                outcome.delivered
                and at < stop_sending_at
                and may_send_next(
                    claimed_for=at - claimed_at, deadline=deadline, lease_seconds=lease_seconds
                )
            )

        return go_on

    claimed = attempts = 0
    in_flight: dict[Future[list[Outcome]], tuple[list[Claim], list[datetime]]] = {}
    with Sender(deadline=deadline, verify=verify) as sender:
        while True:
            claiming = claimed < MAX_DELIVERIES_PER_CALL and time.monotonic() < stop_sending_at
            free = min(MAX_IN_FLIGHT - len(in_flight), MAX_DELIVERIES_PER_CALL - claimed)
            if claiming and time.monotonic() >= fan_out_at:
                while fan_out_events(now=clock()) == FAN_OUT_BATCH:
                    pass
                fan_out_at = time.monotonic() + settings.WEBHOOK_INTERVAL_SECONDS
            if claiming and free > 0:
                claimed_at = time.monotonic()
                batch = min(BATCH, MAX_DELIVERIES_PER_CALL - claimed)
                for claims in claim_due_deliveries(now=clock(), limit=free, batch=batch):
                    ended_at: list[datetime] = []
                    future = sender.send_in_order(
                        [claim.post() for claim in claims], go_on=go_on_after(claimed_at, ended_at)
                    )
                    in_flight[future] = (claims, ended_at)
                    claimed += len(claims)
            if not in_flight:
                break
            # Woken by a batch that ended, or after a while to claim what came due
            # meanwhile (another endpoint's delivery is not held up by a slow one).
            done, _ = wait(
                in_flight, timeout=settings.WEBHOOK_INTERVAL_SECONDS, return_when=FIRST_COMPLETED
            )
            for future in done:
                outcomes = future.result()
                claims, ended_at = in_flight.pop(future)
                record_batch(claims, outcomes, now=clock(), ended_at=ended_at)
                attempts += len(outcomes)
    return attempts
