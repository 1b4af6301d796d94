"""The event's shape: the log's answers and every webhook delivery's body (core.shaping)."""

from __future__ import annotations

from core.shaping import Out, Shape
from events.types import EVENT_TYPES

EVENT = Shape(
    "Event",
    doc="A change, as the log and every webhook delivery carry it.",
    id=Out("uuid"),
    type=Out("string", choices=EVENT_TYPES, help="What happened; `data` is shaped by it."),
    created_at=Out("datetime"),
    data=Out("object", help="The object as the API returns it after the change."),
)
