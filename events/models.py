"""The event table: the transactional outbox. A change and its event commit together
(events.services.outbox); the pollable log (`GET /v1/events/`) and the webhook
deliveries read from here.

On PostgreSQL two more columns, which the ORM does not see, give the log its order and
its safe cursor (migration 0009, read by events.services.log_sql):
- `txid xid8 DEFAULT pg_current_xact_id()`: the writing transaction's id;
- `position bigint GENERATED ALWAYS AS IDENTITY`: the order within one transaction.
"""

from __future__ import annotations

import uuid

from django.db import models

from events.types import MAX_EVENT_TYPE_LENGTH


class Event(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=MAX_EVENT_TYPE_LENGTH)
    created_at = models.DateTimeField()
    # The object as the API returns it after the change.
    data = models.JSONField()

    class Meta:
        db_table = "coupons_event"  # kept from the coupons app (migrations 0011)
        indexes = [models.Index(fields=["type", "created_at"], name="event_type_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"
