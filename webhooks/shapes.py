"""The webhook endpoints' and delivery attempts' shapes (core.shaping)."""

from __future__ import annotations

from core.shaping import Out, Shape

# webhooks.models.DeliveryStatus (pinned by a test: shapes do not import models).
DELIVERY_STATUSES: tuple[str, ...] = ("pending", "succeeded", "failed")

_ENDPOINT_FIELDS = {
    "id": Out("uuid"),
    "url": Out("string"),
    "events": Out("strings", help='Event types, or ["*"] for all.'),
    "is_active": Out("boolean"),
    "description": Out("string"),
    "disabled_reason": Out(
        "string", nullable=True, help="Why the service disabled it (24 hours of failures)."
    ),
    "created_at": Out("datetime"),
}

WEBHOOK_ENDPOINT = Shape(
    "WebhookEndpoint", doc="A URL the service POSTs chosen events to.", **_ENDPOINT_FIELDS
)

WEBHOOK_ENDPOINT_CREATED = Shape(
    "WebhookEndpointCreated",
    doc="A new webhook endpoint, with the secret that signs its deliveries (shown once).",
    **_ENDPOINT_FIELDS,
    secret=Out("string", help="Signs every delivery (Coupon-Signature); shown only here."),
)

WEBHOOK_ATTEMPT = Shape(
    "WebhookDeliveryAttempt",
    doc="One POST of an event to an endpoint (or the next one, scheduled).",
    id=Out("uuid"),
    event_id=Out("uuid", source="delivery.event_key"),
    event_type=Out("string", source="delivery.event_type"),
    attempt=Out("integer", minimum=1),
    status=Out(
        "string",
        choices=DELIVERY_STATUSES,
        help="succeeded, failed, or pending (scheduled, not attempted yet).",
    ),
    response_status=Out("integer", nullable=True, help="null: no HTTP answer (or not yet)."),
    duration_ms=Out("integer", nullable=True, minimum=0),
    attempted_at=Out("datetime", nullable=True),
    next_attempt_at=Out(
        "datetime", nullable=True, help="When it is (or the next one is) due; null: no more."
    ),
)
