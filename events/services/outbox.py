"""The outbox: an event is written inside the unit of work of the change it reports, so
there is no event for a change that rolled back and no change without its event. Its
`data` is encoded by the API's own shape declarations (core.shaping: each app's shapes), so
an event holds exactly what `GET` of the object answers after the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from core.shaping import Shape
from events.models import Event
from events.types import EVENT_TYPE_SET


class OutsideTransaction(RuntimeError):
    """An event written outside a transaction could commit without its change."""


def new_event(type_: str, data: dict[str, Any], *, now: datetime) -> Event:
    """An event (not saved yet) for the caller's transaction, which must be open: saved by
    `record_event`, or written by the caller's own statement with its change."""
    if type_ not in EVENT_TYPE_SET:
        raise ValueError(f"unknown event type {type_!r}")
    if not connection.in_atomic_block:
        raise OutsideTransaction(f"{type_} must be written in its change's transaction")
    return Event(id=uuid.uuid4(), type=type_, data=data, created_at=now)


def record_event(type_: str, data: dict[str, Any], *, now: datetime | None = None) -> Event:
    """Write one event in the caller's transaction (which must be open)."""
    event = new_event(type_, data, now=now or timezone.now())
    event.save(force_insert=True)
    return event


def record(type_: str, shape: Shape, obj: Any, *, now: datetime | None = None) -> Event:
    """`obj`'s event, its data encoded as the API answers it."""
    return record_event(type_, shape(obj), now=now)


def record_many(type_: str, shape: Shape, objs: list[Any], *, now: datetime) -> None:
    """One event per object in one INSERT (a batch of codes)."""
    if not connection.in_atomic_block:
        raise OutsideTransaction(f"{type_} must be written in its change's transaction")
    Event.objects.bulk_create(
        [Event(type=type_, data=shape(obj), created_at=now) for obj in objs], batch_size=1000
    )
