"""Waiting for the fan-out to have read events: the log reads an event only once every
transaction older than its own has ended, cluster-wide (txid < the snapshot's xmin), so a
test waits, boundedly, for other sessions' transactions rather than assuming none run."""

from __future__ import annotations

import time

from django.db import connection

from events.models import Event
from webhooks.models import WebhookCursor
from webhooks.services.fanout import fan_out_events


def read_past(event: Event) -> bool:
    cursor_row = WebhookCursor.objects.filter(id=1).first()
    if cursor_row is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (txid, position) <= (%s::text::xid8, %s) FROM coupons_event WHERE id = %s",
            [str(cursor_row.txid), cursor_row.position, event.id],
        )
        return bool(cursor.fetchone()[0])


def fan_out(*events: Event, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(read_past(event) for event in events):
        assert time.monotonic() < deadline, "the fan-out never read the events"
        fan_out_events()
        time.sleep(0.02)
