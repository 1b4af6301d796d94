"""A slow webhook receiver holds up nothing but itself (issue 24, finding 3): every attempt
ends within one deadline, a receiver that hangs or drips its answer a byte at a time is a
timed-out failure, other endpoints are delivered meanwhile, and the worker's hold sweep is
never kept waiting behind deliveries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connections, transaction

from coupons.models import ReservationStatus
from events.models import Event
from events.services.outbox import record_event
from tests.operations.test_worker import expired_hold, status_of
from tests.webhooks.fanout import fan_out
from tests.webhooks.receiver import running_receiver
from tests.webhooks.test_worker_delivery import ready, spawn_worker, stop
from webhooks.models import DeliveryStatus, WebhookAttempt
from webhooks.services.delivery import deliver_due_webhooks
from webhooks.services.endpoints import create_endpoint
from webhooks.services.transport import TIMEOUT_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_INTERVAL_SECONDS = 0.2


def record(n: int) -> Event:
    with transaction.atomic():
        return record_event("redemption.created", {"id": f"r-{n}"})


def within(seconds: float, condition: Callable[[], bool], what: str) -> float:
    """How long `condition` took to hold, failing after `seconds`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, what
        time.sleep(0.05)
    return time.monotonic() - started


def first_attempt(event: Event, url: str) -> WebhookAttempt:
    return WebhookAttempt.objects.get(delivery__event=event, delivery__endpoint__url=url, attempt=1)


def test_a_receiver_that_drips_its_answer_is_a_timed_out_failure_at_the_deadline():
    # 38 bytes of status line and headers, one every 0.3 s: each read is quick, the answer
    # takes 11 s; the attempt's deadline here is 1 s.
    with running_receiver(drip=0.3) as receiver:
        create_endpoint(url=receiver.url, events=["*"])
        event = record(1)
        fan_out(event)
        started = time.monotonic()
        assert deliver_due_webhooks(deadline=1.0) == 1
        took = time.monotonic() - started

    attempt = first_attempt(event, receiver.url)
    assert (attempt.status, attempt.response_status) == (DeliveryStatus.FAILED, None)
    assert attempt.error == "timed out: no answer within 1 s"
    assert 1000 <= attempt.duration_ms < 1500
    assert took < 3
    assert attempt.next_attempt_at is not None  # retried like any other failure


def test_a_hanging_receiver_holds_up_no_other_endpoint():
    release = threading.Event()
    outcome: dict[str, int] = {}

    def deliver() -> None:
        try:
            outcome["attempts"] = deliver_due_webhooks(deadline=3.0)
        finally:
            connections.close_all()

    with running_receiver(release=release) as hanging, running_receiver() as healthy:
        create_endpoint(url=hanging.url, events=["*"])
        create_endpoint(url=healthy.url, events=["*"])
        first = record(1)
        fan_out(first)
        delivering = threading.Thread(target=deliver)
        delivering.start()
        try:
            assert hanging.arrived.wait(5)
            within(2, lambda: str(first.id) in healthy.event_ids(), "the healthy one waited")
            # An event of a moment later reaches the healthy endpoint while the other hangs.
            second = record(2)
            within(3, lambda: str(second.id) in healthy.event_ids(), "the healthy one waited")
            assert not release.is_set() and delivering.is_alive()
        finally:
            delivering.join(15)
    assert not delivering.is_alive()
    hung = first_attempt(first, hanging.url)
    assert (hung.status, hung.response_status) == (DeliveryStatus.FAILED, None)
    assert 3000 <= hung.duration_ms < 3500
    assert first_attempt(first, healthy.url).status == DeliveryStatus.SUCCEEDED
    assert first_attempt(second, healthy.url).status == DeliveryStatus.SUCCEEDED


def test_the_worker_sweeps_and_delivers_to_others_while_receivers_hang_and_drip(
    tmp_path, on_postgres
):
    """The hunt's receivers against a real worker and the real 10 s deadline: one sleeps
    12 s, one drips its answer a byte every 4 s."""
    if not on_postgres:
        pytest.skip("the worker process needs PostgreSQL")
    with (
        running_receiver(delay=12) as sleeping,
        running_receiver(drip=4) as dripping,
        running_receiver() as healthy,
    ):
        for receiver in (sleeping, dripping, healthy):
            create_endpoint(url=receiver.url, events=["*"])
        first = record(1)
        worker = spawn_worker(tmp_path, "worker", SWEEP_INTERVAL_SECONDS="1")
        log = tmp_path / "worker.log"
        try:
            ready(worker, log)
            assert sleeping.arrived.wait(20) and dripping.arrived.wait(5), log.read_text()
            arrived = time.monotonic()
            # While both hold their POSTs: a hold expires and is swept, and the healthy
            # endpoint gets both its events, the second one recorded only now.
            hold = expired_hold("SWEPT-WHILE-HUNG")
            second = record(2)
            within(4, lambda: status_of(hold) == ReservationStatus.EXPIRED, log.read_text())
            within(4, lambda: str(second.id) in healthy.event_ids(), log.read_text())
            assert str(first.id) in healthy.event_ids()
            assert time.monotonic() - arrived < 9  # all of it before either deadline

            def recorded(url: str) -> bool:
                return WebhookAttempt.objects.filter(
                    delivery__event=first, delivery__endpoint__url=url, attempt=1,
                    attempted_at__isnull=False,
                ).exists()  # fmt: skip

            within(13, lambda: recorded(dripping.url) and recorded(sleeping.url), log.read_text())
        finally:
            stop(worker)

    for url in (dripping.url, sleeping.url):
        attempt = first_attempt(first, url)
        assert (attempt.status, attempt.response_status) == (DeliveryStatus.FAILED, None)
        assert attempt.error == f"timed out: no answer within {TIMEOUT_SECONDS:g} s"
        assert TIMEOUT_SECONDS * 1000 <= attempt.duration_ms < TIMEOUT_SECONDS * 1000 + 1000
