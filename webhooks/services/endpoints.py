"""Webhook endpoints: create (with the secret, shown once), read, edit, delete, list them,
and list an endpoint's delivery attempts. Delivery itself is webhooks.services.delivery.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from core.pages import Cursor, Page, keyset_page
from core.workers import in_worker
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.url_guard import RefusedUrl, parse_webhook_url, resolve_checked

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
EDITABLE = frozenset({"url", "events", "is_active", "description"})


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def check_webhook_url(url: str) -> None:
    """The SSRF guard at creation (and on a changed url): a 400 naming the reason. The
    same check runs again at each delivery, against the address resolved then."""
    try:
        target = parse_webhook_url(url, allow_http=settings.WEBHOOK_ALLOW_HTTP)
        if not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
            resolve_checked(target, allow_private=False)
    except RefusedUrl as exc:
        raise ValidationFailed({"url": [str(exc)]}) from exc


def create_endpoint(
    *,
    url: str,
    events: list[str],
    description: str = "",
    is_active: bool = True,
    now: datetime | None = None,
) -> WebhookEndpoint:
    """A new endpoint, its `secret` set (the only time the API shows it)."""
    check_webhook_url(url)
    return WebhookEndpoint.objects.create(
        url=url,
        events=events,
        description=description,
        is_active=is_active,
        secret=new_secret(),
        created_at=now or timezone.now(),
    )


def get_endpoint(endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(f"No webhook endpoint has the id {endpoint_id}.")
    return endpoint


def update_endpoint(endpoint_id: uuid.UUID, *, changes: dict[str, Any]) -> WebhookEndpoint:
    """Apply `changes`; turning an endpoint on clears why it was disabled and its run of
    failures (a fresh 24 hours before it can be disabled again)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if "url" in changes:
        check_webhook_url(changes["url"])
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound(f"No webhook endpoint has the id {endpoint_id}.")
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if changes.get("is_active") is True:
            endpoint.disabled_reason = None
            endpoint.failing_since = None
        endpoint.save()
    return endpoint


def set_endpoints_active(endpoint_ids: list[uuid.UUID], *, active: bool) -> int:
    """The admin's actions: like PATCH is_active on each."""
    changed = 0
    for endpoint_id in endpoint_ids:
        update_endpoint(endpoint_id, changes={"is_active": active})
        changed += 1
    return changed


def delete_endpoint(endpoint_id: uuid.UUID) -> None:
    """The endpoint with its deliveries and their attempts (a delivery in flight finds its
    row gone when it reports, and its result is dropped)."""
    deleted, _ = WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
    if not deleted:
        raise NotFound(f"No webhook endpoint has the id {endpoint_id}.")


def endpoint_page(*, cursor: Cursor | None, size: int) -> Page[WebhookEndpoint]:
    return keyset_page(WebhookEndpoint.objects.all(), moment="created_at", cursor=cursor, size=size)


def _attempts(endpoint_id: uuid.UUID) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(endpoint_id=endpoint_id).select_related("delivery__event")


def attempt_page(
    endpoint_id: uuid.UUID, *, cursor: Cursor | None, size: int
) -> Page[WebhookAttempt]:
    """An endpoint's attempts, newest first; the next one scheduled for a delivery is a
    pending attempt (not attempted yet)."""
    if not WebhookEndpoint.objects.filter(pk=endpoint_id).exists():
        raise NotFound(f"No webhook endpoint has the id {endpoint_id}.")
    return keyset_page(_attempts(endpoint_id), moment="created_at", cursor=cursor, size=size)


def pending_backlog(now: datetime | None = None) -> tuple[int, float]:
    """Deliveries waiting (active endpoints), and how long the oldest due one has waited
    in seconds (0 when none is due): /readyz and the metrics."""
    now = now or timezone.now()
    pending = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, endpoint__is_active=True
    )
    oldest = (
        pending.filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return pending.count(), age


acreate_endpoint = in_worker(create_endpoint)
aget_endpoint = in_worker(get_endpoint)
aupdate_endpoint = in_worker(update_endpoint)
adelete_endpoint = in_worker(delete_endpoint)
aendpoint_page = in_worker(endpoint_page)
aattempt_page = in_worker(attempt_page)
apending_backlog = in_worker(pending_backlog)
