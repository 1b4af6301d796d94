"""The event types of the contract ("Events"): every change a client would care about.
The one list; the API's `type` filter, the webhook endpoints' `events` and the outbox
(events.services.outbox) all check against it."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "coupon.created",
    "coupon.updated",
    "coupon.deleted",
    "coupon.exhausted",
    "redemption.created",
    "redemption.reverted",
    "reservation.created",
    "reservation.confirmed",
    "reservation.released",
    "reservation.expired",
    "campaign.created",
    "campaign.updated",
    "campaign.deleted",
    "campaign.budget_exhausted",
)
EVENT_TYPE_SET = frozenset(EVENT_TYPES)
# The longest type name, for the column.
MAX_EVENT_TYPE_LENGTH = 64
