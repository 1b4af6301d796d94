"""The outbox: an event is written inside the unit of work of the change it reports, so
there is no event for a change that rolled back and no change without its event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from coupons.domain.events import EVENT_TYPE_SET
from coupons.event_models import Event


class OutsideTransaction(RuntimeError):
    """An event written outside a transaction could commit without its change."""


def record_event(type_: str, data: dict[str, Any], *, now: datetime | None = None) -> Event:
    """Write one event in the caller's transaction (which must be open)."""
    if type_ not in EVENT_TYPE_SET:
        raise ValueError(f"unknown event type {type_!r}")
    if not connection.in_atomic_block:
        raise OutsideTransaction(f"{type_} must be written in its change's transaction")
    return Event.objects.create(type=type_, data=data, created_at=now or timezone.now())
