"""Deliveries to one endpoint follow the event log's order under a backlog (issue 24,
finding 4): a fan-out batch of several events, whose deliveries share one `next_attempt_at`,
goes out one at a time per endpoint in log order, also with two workers; a failed one is
retried when due without holding up the later ones. An endpoint's due deliveries are
claimed in batches under one lease, which covers every attempt of the batch."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.models import Event
from events.services.outbox import record_event
from tests.webhooks.fanout import fan_out
from tests.webhooks.receiver import running_receiver
from tests.webhooks.test_worker_delivery import ready, spawn_worker, stop
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.delivery import (
    claim_due_deliveries,
    deliver_due_webhooks,
    may_send_next,
    record_batch,
)
from webhooks.services.endpoints import create_endpoint
from webhooks.services.transport import Outcome

pytestmark = pytest.mark.django_db(transaction=True)

DELIVERED = Outcome(True, 200, 5)
REFUSED = Outcome(False, 500, 5)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


def hold_backlog(holds: int) -> list[Event]:
    """`reservation.created` then `reservation.confirmed` for each hold, each event in a
    transaction of its own: the log's order is this list's."""
    events = []
    for n in range(holds):
        for type_ in ("reservation.created", "reservation.confirmed"):
            with transaction.atomic():
                events.append(record_event(type_, {"id": f"hold-{n}"}))
    return events


def test_a_fan_out_batch_is_claimed_as_one_batch_per_endpoint_in_log_order():
    first = create_endpoint(url="http://127.0.0.1:9/a", events=["*"])
    second = create_endpoint(url="http://127.0.0.1:9/b", events=["*"])
    events = hold_backlog(3)
    fan_out(events[-1])
    now = timezone.now()
    deliveries = WebhookDelivery.objects.filter(endpoint=first.id)
    assert deliveries.count() == 6
    assert len(set(deliveries.values_list("next_attempt_at", flat=True))) == 1  # one batch
    in_log_order = [str(event.id) for event in events]

    batches = claim_due_deliveries(now=now, limit=10)
    by_url = {claims[0].url: claims for claims in batches}
    assert sorted(by_url) == [first.url, second.url]
    for claims in batches:
        assert [claim.event_id for claim in claims] == in_log_order
        assert len({(claim.url, claim.leased_until) for claim in claims}) == 1  # one lease
    assert WebhookDelivery.objects.filter(locked_until__isnull=True).count() == 0
    # Both endpoints have theirs in flight: nothing more until they are recorded.
    assert claim_due_deliveries(now=now, limit=10) == []

    # The first endpoint's batch is delivered; the second's first POST is refused: it is
    # recorded with its retry, and the rest of that batch released, due again at once.
    record_batch(by_url[first.url], [DELIVERED] * 6, now=now)
    record_batch(by_url[second.url], [REFUSED], now=now)
    (rest,) = claim_due_deliveries(now=now, limit=10)
    assert [(claim.url, claim.event_id) for claim in rest] == [
        (second.url, event_id) for event_id in in_log_order[1:]
    ]
    record_batch(rest, [DELIVERED] * 5, now=now)
    assert claim_due_deliveries(now=now, limit=10) == []
    assert set(deliveries.values_list("status", "attempt_count", "locked_until")) == {
        (DeliveryStatus.SUCCEEDED, 1, None)
    }

    # Its retry, once due, is the second endpoint's next delivery.
    later = now + timedelta(hours=1)
    ((retry,),) = claim_due_deliveries(now=later, limit=10)
    assert (retry.url, retry.event_id, retry.attempt) == (second.url, in_log_order[0], 2)


def test_a_batch_is_at_most_its_size_and_skips_a_delivery_waiting_for_its_retry():
    endpoint = create_endpoint(url="http://127.0.0.1:9/a", events=["*"])
    events = hold_backlog(3)
    fan_out(events[-1])
    now = timezone.now()
    in_log_order = [str(event.id) for event in events]

    ((head,),) = claim_due_deliveries(now=now, batch=1)
    record_batch([head], [REFUSED], now=now)
    (claims,) = claim_due_deliveries(now=now, batch=4)
    assert [claim.event_id for claim in claims] == in_log_order[1:5]
    record_batch(claims, [DELIVERED] * 4, now=now)
    (claims,) = claim_due_deliveries(now=now, batch=4)
    assert [claim.event_id for claim in claims] == in_log_order[5:]
    assert all(claim.url == endpoint.url for claim in claims)


def test_a_late_record_of_a_lapsed_lease_neither_counts_twice_nor_frees_the_new_lease():
    create_endpoint(url="http://127.0.0.1:9/a", events=["*"])
    events = hold_backlog(2)
    fan_out(events[-1])
    now = timezone.now()
    (lapsed,) = claim_due_deliveries(now=now)
    # The first worker's lease runs out mid-batch; another takes the batch again.
    later = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)
    (taken,) = claim_due_deliveries(now=later)
    assert [claim.delivery_id for claim in taken] == [claim.delivery_id for claim in lapsed]

    # The first worker records its first POST and releases the rest: only its result is
    # kept (once), and the rest stays leased to the second worker.
    record_batch(lapsed, [DELIVERED], now=later)
    assert claim_due_deliveries(now=later) == []
    record_batch(taken, [DELIVERED] * 4, now=later)
    attempts = WebhookAttempt.objects.filter(attempted_at__isnull=False)
    assert attempts.count() == 4
    assert set(attempts.values_list("attempt", "status")) == {(1, DeliveryStatus.SUCCEEDED)}
    assert set(WebhookDelivery.objects.values_list("status", "locked_until")) == {
        (DeliveryStatus.SUCCEEDED, None)
    }


def test_an_endpoint_another_worker_is_claiming_for_is_skipped(on_postgres):
    if not on_postgres:
        pytest.skip("row locks need PostgreSQL")
    endpoint = create_endpoint(url="http://127.0.0.1:9/a", events=["*"])
    fan_out(hold_backlog(1)[-1])
    locked, release = threading.Event(), threading.Event()

    def claim_in_another_worker() -> None:
        try:
            with transaction.atomic():
                WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    claiming = threading.Thread(target=claim_in_another_worker)
    claiming.start()
    try:
        assert locked.wait(10)
        assert claim_due_deliveries(now=timezone.now()) == []
    finally:
        release.set()
        claiming.join(10)
    (claims,) = claim_due_deliveries(now=timezone.now())
    assert len(claims) == 2


@pytest.mark.parametrize(
    ("claimed_for", "deadline", "lease_seconds", "may"),
    [
        (0.0, 10.0, 60, True),
        (45.0, 10.0, 60, True),  # the attempt ends at 55 s, recorded within the lease
        (45.1, 10.0, 60, False),
        (0.0, 10.0, 14, False),  # a lease too short for more than the first attempt
        (0.5, 1.0, 7, True),
        (1.5, 1.0, 7, False),
    ],
)
def test_a_batch_starts_its_next_attempt_only_if_the_lease_covers_it(
    claimed_for, deadline, lease_seconds, may
):
    assert (
        may_send_next(claimed_for=claimed_for, deadline=deadline, lease_seconds=lease_seconds)
        is may
    )


def test_a_slow_receiver_s_batch_is_cut_to_its_lease_and_still_arrives_in_order_once(settings):
    # A lease of 7 s and a deadline of 1 s leave about 1 s to start a batch's attempts
    # (may_send_next): at 0.3 s a POST, six deliveries take more than one batch.
    settings.WEBHOOK_LEASE_SECONDS = 7
    with running_receiver(delay=0.3) as receiver:
        create_endpoint(url=receiver.url, events=["*"])
        events = hold_backlog(3)
        fan_out(events[-1])
        assert deliver_due_webhooks(deadline=1.0) == 6
    assert receiver.event_ids() == [str(event.id) for event in events]
    assert set(WebhookDelivery.objects.values_list("status", "attempt_count", "locked_until")) == {
        (DeliveryStatus.SUCCEEDED, 1, None)
    }


def test_two_workers_deliver_a_backlog_to_one_endpoint_in_the_log_order(tmp_path, on_postgres):
    if not on_postgres:
        pytest.skip("the worker processes need PostgreSQL")
    # A receiver that takes 20 ms per POST: the two workers' deliveries overlap in time.
    with running_receiver(delay=0.02) as receiver:
        create_endpoint(url=receiver.url, events=["*"])
        events = hold_backlog(20)
        workers = [spawn_worker(tmp_path, f"worker-{n}") for n in range(2)]
        try:
            for n, worker in enumerate(workers):
                ready(worker, tmp_path / f"worker-{n}.log")
            deadline = time.monotonic() + 60
            while len(receiver.event_ids()) < len(events):
                assert time.monotonic() < deadline, f"{len(receiver.event_ids())} delivered"
                time.sleep(0.1)
            time.sleep(0.3)  # any late duplicate
        finally:
            for worker in workers:
                stop(worker)
    # A failed attempt would be retried after the later ones (and say why here).
    failed = list(WebhookAttempt.objects.exclude(error="").values_list("error", flat=True))
    assert receiver.event_ids() == [str(event.id) for event in events], failed
