"""Webhooks in the admin: endpoints created and edited through the service (the SSRF guard
and the event types checked), the delivery log with response codes, a test event, and
re-enabling a disabled endpoint."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from tests.webhooks.receiver import running_receiver
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookEndpoint
from webhooks.services.delivery import deliver_due_webhooks
from webhooks.services.endpoints import create_endpoint

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_endpoint_is_added_with_its_secret_shown_once_and_bad_urls_refused(staff, settings):
    url = reverse("admin:webhooks_webhookendpoint_add")
    refused = staff.post(url, {"url": "https://127.0.0.1/hook", "events": ["*"]})
    assert refused.status_code == 200 and "WEBHOOK_ALLOW_PRIVATE_HOSTS" in refused.content.decode()
    mixed = staff.post(url, {"url": "https://127.0.0.1/", "events": ["*", "coupon.created"]})
    assert "stands alone" in mixed.content.decode()
    assert not WebhookEndpoint.objects.exists()

    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    added = staff.post(
        url, {"url": "https://127.0.0.1/hook", "events": ["coupon.created"]}, follow=True
    )

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["coupon.created"] and endpoint.secret.startswith("whsec_")
    assert endpoint.secret in added.content.decode()
    change = staff.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    assert change.status_code == 200 and endpoint.secret not in change.content.decode()


def test_a_test_event_is_sent_and_logged_with_its_response_code_and_no_event_row(staff, settings):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    with running_receiver(statuses=[418]) as receiver:
        endpoint = create_endpoint(url=receiver.url, events=["redemption.created"])
        staff.post(
            reverse("admin:webhooks_webhookendpoint_changelist"),
            {"_selected_action": [str(endpoint.pk)], "action": "send_test_event"},
        )
        deliver_due_webhooks()

    assert [r.headers["coupon-event-type"] for r in receiver.received] == ["webhook.test"]
    assert not Event.objects.exists()
    log = staff.get(
        reverse("admin:webhooks_webhookattempt_changelist") + f"?endpoint__id__exact={endpoint.pk}"
    ).content.decode()
    assert "webhook.test" in log and "418" in log
    assert WebhookAttempt.objects.filter(status=DeliveryStatus.FAILED, response_status=418).exists()


def test_a_disabled_endpoint_is_re_enabled_from_the_admin(staff, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    endpoint = create_endpoint(url="https://127.0.0.1/hook", events=["*"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_reason="24 hours of failures", failing_since=timezone.now()
    )

    staff.post(
        reverse("admin:webhooks_webhookendpoint_changelist"),
        {"_selected_action": [str(endpoint.pk)], "action": "enable"},
    )

    endpoint.refresh_from_db()
    assert (
        endpoint.is_active and endpoint.disabled_reason is None and endpoint.failing_since is None
    )


def test_an_endpoint_edited_in_the_admin_goes_through_the_guard(staff, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    endpoint = create_endpoint(url="https://127.0.0.1/hook", events=["*"])
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])

    refused = staff.post(url, {"url": "https://10.0.0.1/", "events": ["*"], "is_active": "on"})
    assert refused.status_code == 200 and "private" in refused.content.decode()
    staff.post(
        url,
        {"url": "https://127.0.0.1/hook", "events": ["coupon.created"], "description": "x",
         "is_active": "on"},
    )  # fmt: skip

    endpoint.refresh_from_db()
    assert endpoint.url == "https://127.0.0.1/hook"
    assert endpoint.events == ["coupon.created"] and endpoint.description == "x"
