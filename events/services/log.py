"""Reading the event log: the pollable list (`GET /v1/events/`) and the webhook
dispatcher read it through `events_after`, which never skips an event that commits late
(events.services.log_sql says why)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core import signing

from core.errors import NotFound, ValidationFailed
from core.workers import in_worker
from events.models import Event
from events.services import log_sql as events_sql
from events.types import EVENT_TYPE_SET


@dataclass(frozen=True, slots=True)
class EventCursor:
    """A position in the log: after the event with this key ((txid, position) on
    PostgreSQL, (rowid, 0) on SQLite). `START` is before every event."""

    txid: int
    position: int

    # Signed as the other lists' cursors are (core.pages): one made up or
    # changed is a 400 before anything in it reaches the database.
    SALT = "coupons.events.cursor"

    def token(self) -> str:
        return signing.dumps([self.txid, self.position], salt=self.SALT)

    @classmethod
    def parse(cls, token: str) -> EventCursor:
        try:
            txid, position = signing.loads(token, salt=cls.SALT)
            if not all(type(n) is int and 0 <= n < 2**63 for n in (txid, position)):
                raise ValueError(token)
        except (signing.BadSignature, ValueError, TypeError, RecursionError) as exc:
            raise ValidationFailed({"cursor": ["Invalid cursor."]}) from exc
        return cls(txid, position)


START = EventCursor(0, 0)


def events_after(
    cursor: EventCursor | None,
    *,
    types: Sequence[str] | None = None,
    limit: int,
    wait: float = 0.0,
) -> tuple[list[Event], EventCursor]:
    """The next events of the log after `cursor` (None: from the start), oldest first, at
    most `limit`, of `types` only if given (None or empty: all); and the cursor to ask
    with next time, which is ALWAYS given (the same one when nothing new has committed).

    Following the returned cursor sees every event exactly once, in one order, however
    the writing transactions interleave: an event appears only once every transaction
    of this database begun before its own has finished, so a cursor never passes one
    that commits late. An event of a change that rolled back never appears.

    `wait` (seconds): when committed events are held back by older transactions still
    running, wait up to this long for the transactions running now to finish (usually
    milliseconds), so a client that lists right after its change sees it. Never waits
    for transactions that start later. Sync (for a worker; the API calls
    `aevents_after`). Raises ValueError for a type not in EVENT_TYPES.
    """
    unknown = sorted(set(types or ()) - EVENT_TYPE_SET)
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)}")
    after = cursor or START
    key = (after.txid, after.position)
    rows, held_back = events_sql.events_after(key, types=types, limit=limit)
    if held_back and len(rows) < limit and wait > 0:
        newest = events_sql.newest_txid()
        deadline = time.monotonic() + wait
        while newest is not None and not events_sql.line_passed(newest):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        rows, _ = events_sql.events_after(key, types=types, limit=limit)
    if not rows:
        return [], after
    return [event for event, _ in rows], EventCursor(*rows[-1][1])


def get_event(event_id: uuid.UUID) -> Event:
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound(f"No event has the id {event_id}.")
    return event


aevents_after = in_worker(events_after)
aget_event = in_worker(get_event)
