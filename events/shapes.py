"""The event's shape: the log's answers and every webhook delivery's body (core.shaping)."""

from __future__ import annotations

from core.shaping import Out, Shape

EVENT = Shape(
    "Event",
    id=Out("uuid"),
    type=Out("string", help="One of the event types (coupon.created, ...)."),
    created_at=Out("datetime"),
    data=Out("object", help="The object as the API returns it after the change."),
)
