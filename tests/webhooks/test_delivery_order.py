"""Deliveries to one endpoint follow the event log's order under a backlog (issue 24,
finding 4): a fan-out batch of several events, whose deliveries share one `next_attempt_at`,
goes out one at a time per endpoint in log order, also with two workers; a failed one is
retried when due without holding up the later ones."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import Event
from events.services.outbox import record_event
from tests.webhooks.fanout import fan_out
from tests.webhooks.receiver import running_receiver
from tests.webhooks.test_worker_delivery import ready, spawn_worker, stop
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services.delivery import claim_due_deliveries, record_attempt
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


def test_a_fan_out_batch_is_claimed_one_delivery_per_endpoint_at_a_time_in_log_order():
    first = create_endpoint(url="http://127.0.0.1:9/a", events=["*"])
    second = create_endpoint(url="http://127.0.0.1:9/b", events=["*"])
    events = hold_backlog(3)
    fan_out(events[-1])
    now = timezone.now()
    deliveries = WebhookDelivery.objects.filter(endpoint=first.id)
    assert deliveries.count() == 6
    assert len(set(deliveries.values_list("next_attempt_at", flat=True))) == 1  # one batch

    claims = claim_due_deliveries(now=now, limit=10)
    assert sorted(claim.url for claim in claims) == [first.url, second.url]
    assert {claim.event_id for claim in claims} == {str(events[0].id)}
    # Both endpoints have one in flight: nothing more until it is recorded.
    assert claim_due_deliveries(now=now, limit=10) == []

    by_url = {claim.url: claim for claim in claims}
    record_attempt(by_url[first.url], DELIVERED, now=now)
    record_attempt(by_url[second.url], REFUSED, now=now)
    sent: dict[str, list[str]] = {first.url: [str(events[0].id)], second.url: []}
    # The first endpoint's backlog, and the second's after its failure, go on in order.
    while claims := claim_due_deliveries(now=now, limit=10):
        for claim in claims:
            sent[claim.url].append(claim.event_id)
            record_attempt(claim, DELIVERED, now=now)
    in_log_order = [str(event.id) for event in events]
    assert sent == {first.url: in_log_order, second.url: in_log_order[1:]}

    # Its retry, once due, is the second endpoint's next delivery.
    later = now + timedelta(hours=1)
    (retry,) = claim_due_deliveries(now=later, limit=10)
    assert (retry.url, retry.event_id, retry.attempt) == (second.url, str(events[0].id), 2)


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
