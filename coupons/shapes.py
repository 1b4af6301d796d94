"""The JSON shapes of the API's answers and of the events' `data`, each declared once: the
same declaration encodes an answer or an event (one pass, no serializer machinery: adrf's
serializers hop threads per field) and gives the OpenAPI component
(coupons.api.shapes.serializer_of). Here, outside coupons.api, so that the services can
encode an event's object in the transaction of its change exactly as the API answers it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal

from coupons.domain.discounts import Discount, discount_json
from coupons.domain.metadata import metadata_json

Kind = Literal[
    "uuid",
    "string",
    "integer",
    "boolean",
    "datetime",
    "discount",
    "metadata",
    "details",
    "money",
    "object",
    "strings",
]


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _same(value: Any) -> Any:
    return value


def _discount(value: Discount | None) -> dict[str, Any] | None:
    return None if value is None else discount_json(value)


def _metadata(value: dict[str, str] | None) -> dict[str, str]:
    return metadata_json(value)


_ENCODE: dict[Kind, Callable[[Any], Any]] = {
    "uuid": _uuid,
    "string": _same,
    "integer": _same,
    "boolean": _same,
    "datetime": rfc3339,
    "discount": _discount,
    "metadata": _metadata,
    "details": _same,
    "money": _same,
    "object": _same,
    "strings": list,
}


@dataclass(frozen=True, slots=True)
class Out:
    """One field of an answer: its JSON kind, and where it comes from (the attribute of
    the same name unless `source` says otherwise)."""

    kind: Kind
    nullable: bool = False
    minimum: int | None = None
    help: str = ""
    source: str | None = None


class Shape:
    def __init__(self, component: str, **fields: Out) -> None:
        self.component = component
        self.fields = fields
        self._steps = [
            (name, attrgetter(field.source or name), _ENCODE[field.kind])
            for name, field in fields.items()
        ]

    def __call__(self, obj: Any) -> dict[str, Any]:
        return {name: encode(get(obj)) for name, get, encode in self._steps}


COUPON = Shape(
    "Coupon",
    id=Out("uuid"),
    code=Out("string"),
    init_count=Out("integer", minimum=1),
    remaining_count=Out("integer", minimum=0),
    held_count=Out("integer", minimum=0, help="Uses held by live reservations (counted as used)."),
    is_active=Out("boolean"),
    starts_at=Out("datetime", nullable=True),
    expires_at=Out("datetime", nullable=True),
    per_customer_limit=Out("integer", nullable=True, minimum=1),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
    discount=Out(
        "discount",
        nullable=True,
        help="null: a code that only counts uses, or a code of a campaign (the campaign's "
        "discount applies).",
    ),
    metadata=Out("metadata"),
    campaign_id=Out("uuid", nullable=True, help="null: a code of no campaign."),
)

REDEMPTION = Shape(
    "Redemption",
    id=Out("uuid"),
    coupon_id=Out("uuid"),
    code=Out("string"),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    remaining_count=Out(
        "integer", minimum=0, help="The coupon's remaining uses right after this redemption."
    ),
    redeemed_at=Out("datetime"),
    reverted_at=Out("datetime", nullable=True),
    order_amount=Out("integer", nullable=True, minimum=0, help="The order's amount, if sent."),
    currency=Out("string", nullable=True, help="The order's currency, if sent."),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="null for a coupon without a discount."
    ),
    metadata=Out("metadata"),
)

RESERVATION = Shape(
    "Reservation",
    id=Out("uuid"),
    coupon_id=Out("uuid"),
    code=Out("string"),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    order_amount=Out("integer", nullable=True, minimum=0, help="The order's amount, if sent."),
    currency=Out("string", nullable=True, help="The order's currency, if sent."),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="null for a coupon without a discount."
    ),
    status=Out("string", help="held, confirmed, released or expired."),
    expires_at=Out("datetime"),
    created_at=Out("datetime"),
    redemption_id=Out("uuid", nullable=True, help="Its redemption, once confirmed."),
    metadata=Out("metadata"),
)

VALIDATION = Shape(
    "ValidationResult",
    valid=Out("boolean"),
    reason=Out("string", nullable=True, help="An error code, or null if valid."),
    remaining_count=Out("integer", nullable=True),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="With an order, on a valid code's discount."
    ),
    amount_after_discount=Out("integer", nullable=True, minimum=0),
    currency=Out("string", nullable=True, help="The order's currency, when amounts are given."),
    details=Out(
        "details", nullable=True, help="currency_mismatch and min_order_amount_not_met only."
    ),
)

CAMPAIGN = Shape(
    "Campaign",
    id=Out("uuid"),
    name=Out("string"),
    is_active=Out("boolean"),
    starts_at=Out("datetime", nullable=True),
    expires_at=Out("datetime", nullable=True),
    discount=Out("discount", nullable=True, help="Its codes' discount; null: none."),
    per_customer_limit=Out(
        "integer", nullable=True, minimum=1, help="A customer's live redemptions across its codes."
    ),
    max_redemptions=Out("integer", nullable=True, minimum=1),
    budget=Out("money", nullable=True, help="At most this much discount in total."),
    redemption_count=Out("integer", minimum=0, help="Live redemptions of its codes."),
    held_count=Out("integer", minimum=0),
    discount_total=Out("integer", minimum=0, help="The discounts of its live redemptions."),
    budget_remaining=Out("integer", nullable=True, minimum=0),
    coupon_count=Out("integer", minimum=0),
    metadata=Out("metadata"),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
)

EVENT = Shape(
    "Event",
    id=Out("uuid"),
    type=Out("string", help="One of the event types (coupon.created, ...)."),
    created_at=Out("datetime"),
    data=Out("object", help="The object as the API returns it after the change."),
)

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

WEBHOOK_ENDPOINT = Shape("WebhookEndpoint", **_ENDPOINT_FIELDS)

WEBHOOK_ENDPOINT_CREATED = Shape(
    "WebhookEndpointCreated",
    **_ENDPOINT_FIELDS,
    secret=Out("string", help="Signs every delivery (Coupon-Signature); shown only here."),
)

WEBHOOK_ATTEMPT = Shape(
    "WebhookDeliveryAttempt",
    id=Out("uuid"),
    event_id=Out("uuid", source="delivery.event_key"),
    event_type=Out("string", source="delivery.event_type"),
    attempt=Out("integer", minimum=1),
    status=Out("string", help="succeeded, failed, or pending (scheduled, not attempted yet)."),
    response_status=Out("integer", nullable=True, help="null: no HTTP answer (or not yet)."),
    duration_ms=Out("integer", nullable=True, minimum=0),
    attempted_at=Out("datetime", nullable=True),
    next_attempt_at=Out(
        "datetime", nullable=True, help="When it is (or the next one is) due; null: no more."
    ),
)
