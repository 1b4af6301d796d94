"""Delivery through a real receiver on loopback: signed as README says, retried with
backoff, refused by the SSRF guard at connection time, and the endpoint disabled after
24 hours of failures (the clock given, not slept through)."""

from __future__ import annotations

import json
import shutil
import ssl
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from events.services.outbox import record_event
from tests.webhooks.fanout import fan_out
from tests.webhooks.readme import readme_verify_signature
from tests.webhooks.receiver import running_receiver, self_signed
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.services.delivery import deliver_due_webhooks
from webhooks.services.endpoints import create_endpoint
from webhooks.services.fanout import queue_test_delivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


def record(type_: str = "redemption.created", **data):
    with transaction.atomic():
        return record_event(type_, {"id": "r-1", **data})


def test_a_failed_delivery_is_retried_within_30_seconds_and_then_succeeds_signed():
    verify_signature = readme_verify_signature()
    with running_receiver(statuses=[500]) as receiver:
        endpoint = create_endpoint(url=receiver.url, events=["redemption.created"])
        event = record(code="PIOTR")
        fan_out(event)
        start = timezone.now()

        assert deliver_due_webhooks(now=start) == 1
        failed = WebhookAttempt.objects.get(delivery__event=event, attempt=1)
        assert (failed.status, failed.response_status) == (DeliveryStatus.FAILED, 500)
        assert start < failed.next_attempt_at <= start + timedelta(seconds=30)
        # Not due yet: nothing is sent before its time.
        assert deliver_due_webhooks(now=start + timedelta(seconds=1)) == 0

        assert deliver_due_webhooks(now=start + timedelta(seconds=30)) == 1

    assert len(receiver.received) == 2
    for request in receiver.received:
        assert request.headers["coupon-event-id"] == str(event.id)
        assert request.headers["coupon-event-type"] == "redemption.created"
        signed = request.headers["coupon-signature"]
        assert verify_signature(endpoint.secret, signed, request.body)
        assert not verify_signature("whsec_other", signed, request.body)
        assert not verify_signature(endpoint.secret, signed, request.body + b" ")
        assert json.loads(request.body) == {
            "id": str(event.id),
            "type": "redemption.created",
            "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": {"id": "r-1", "code": "PIOTR"},
        }
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.SUCCEEDED, 2)
    assert list(
        WebhookAttempt.objects.filter(delivery=delivery)
        .order_by("attempt")
        .values_list("status", "response_status")
    ) == [(DeliveryStatus.FAILED, 500), (DeliveryStatus.SUCCEEDED, 200)]


def test_an_endpoint_gets_only_the_types_it_asked_for_and_only_events_after_it():
    before = record("coupon.created")
    with running_receiver() as receiver:
        create_endpoint(url=receiver.url, events=["coupon.updated"])
        wanted = record("coupon.updated")
        fan_out(wanted, record("coupon.deleted"))
        deliver_due_webhooks()

    assert receiver.event_ids() == [str(wanted.id)]
    assert not WebhookDelivery.objects.filter(event=before).exists()


def test_a_redirect_is_a_failure_and_not_followed():
    with running_receiver(statuses=[302]) as receiver:
        create_endpoint(url=receiver.url, events=["*"])
        event = record()
        fan_out(event)
        deliver_due_webhooks()

    assert receiver.event_ids() == [str(event.id)]
    attempt = WebhookAttempt.objects.get(delivery__event=event, attempt=1)
    assert (attempt.status, attempt.response_status) == (DeliveryStatus.FAILED, 302)


def test_a_host_resolving_to_loopback_is_refused_at_delivery(settings):
    with running_receiver(host="localhost") as receiver:
        endpoint = create_endpoint(url=receiver.url, events=["*"])
        # Taken while allowed; by delivery time the operator has turned the guard on.
        settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
        event = record()
        fan_out(event)
        deliver_due_webhooks()

    assert receiver.received == []
    attempt = WebhookAttempt.objects.get(delivery__event=event, attempt=1)
    assert attempt.status == DeliveryStatus.FAILED and attempt.response_status is None
    assert "loopback" in attempt.error
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active


def test_an_endpoint_failing_for_24_hours_is_disabled_and_its_deliveries_stop():
    with running_receiver(statuses=[500] * 10) as receiver:
        endpoint = create_endpoint(url=receiver.url, events=["*"])
        first = record()
        fan_out(first)
        start = timezone.now()
        deliver_due_webhooks(now=start)
        second = record()
        fan_out(second)
        deliver_due_webhooks(now=start + timedelta(hours=12))  # both fail
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active

        deliver_due_webhooks(now=start + timedelta(hours=24, seconds=1))

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "24 hours" in endpoint.disabled_reason
    assert set(
        WebhookDelivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)
    ) == {DeliveryStatus.FAILED}
    assert not WebhookAttempt.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.PENDING
    ).exists()
    sent = len(receiver.received)
    assert sent == receiver.event_ids().count(str(first.id)) + receiver.event_ids().count(
        str(second.id)
    )
    # Nothing more goes out, whatever the clock says.
    assert deliver_due_webhooks(now=start + timedelta(days=3)) == 0


def test_a_success_resets_the_run_of_failures():
    with running_receiver(statuses=[500, 200, 500]) as receiver:
        endpoint = create_endpoint(url=receiver.url, events=["*"])
        fan_out(record())
        start = timezone.now()
        deliver_due_webhooks(now=start)
        fan_out(record())
        deliver_due_webhooks(now=start + timedelta(hours=23))  # the retry or the new one: 200
        deliver_due_webhooks(now=start + timedelta(hours=25))

    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_reason is None


def test_a_test_delivery_reaches_the_receiver_and_is_no_event_of_the_log():
    from events.models import Event

    with running_receiver() as receiver:
        endpoint = create_endpoint(url=receiver.url, events=["redemption.created"])
        test_id = queue_test_delivery(endpoint.id)
        deliver_due_webhooks()

    assert receiver.event_ids() == [str(test_id)]
    assert receiver.received[0].headers["coupon-event-type"] == "webhook.test"
    assert not Event.objects.exists()


def test_retries_back_off_with_jitter_from_within_30_seconds_to_at_most_an_hour():
    import random

    from webhooks.services.retries import retry_delay

    rng = random.Random(17)
    firsts = {retry_delay(1, rng=rng).total_seconds() for _ in range(200)}
    assert max(firsts) <= 30 and min(firsts) >= 10 and len(firsts) > 100  # jittered
    means = [
        sum(retry_delay(n, rng=rng).total_seconds() for _ in range(50)) / 50 for n in (1, 2, 3)
    ]
    assert means[0] < means[1] < means[2]
    assert max(retry_delay(40, rng=rng).total_seconds() for _ in range(200)) <= 3600 * 1.25


def deliver_over_tls(tmp_path, certificate_name):
    """One event delivered to a TLS receiver on localhost whose certificate, trusted by the
    client, names `certificate_name`."""
    cert, key = self_signed(tmp_path, certificate_name)
    trusting = ssl.create_default_context(cafile=str(cert))
    with running_receiver(host="localhost", tls=(cert, key)) as receiver:
        create_endpoint(url=receiver.url, events=["*"])
        event = record()
        fan_out(event)
        deliver_due_webhooks(verify=trusting)
    return receiver, event


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_connects_to_the_checked_address_and_checks_the_name_by_sni(tmp_path):
    receiver, event = deliver_over_tls(tmp_path, "localhost")

    assert receiver.url.startswith("https://localhost:")
    assert receiver.event_ids() == [str(event.id)]
    port = receiver.url.split(":")[2].split("/")[0]
    assert receiver.received[0].headers["host"] == f"localhost:{port}"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_to_a_server_with_another_name_s_certificate_fails(tmp_path):
    receiver, event = deliver_over_tls(tmp_path, "other.test")

    assert receiver.received == []
    attempt = WebhookAttempt.objects.get(delivery__event=event, attempt=1)
    assert attempt.status == DeliveryStatus.FAILED and "ConnectError" in attempt.error
