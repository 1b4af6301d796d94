"""The event log's reader: events in commit-safe order after a position, the one place
that knows the log's order (PostgreSQL's `txid`, `position` columns of migration 0009).

A plain "id > last" cursor loses events: ids (or positions) are taken in one order and
committed in another, so a reader can pass a position whose transaction commits later.
Here a reader only ever sees events of transactions older than its snapshot's xmin: every
transaction below xmin has finished (committed or rolled back), so the set of events
before that line is final, and a cursor on (txid, position) can never step over one that
commits later. The price: an event shows only once every transaction that began before
its own has ended, so one long-open transaction delays the whole log (not the change).

SQLite (development only) has one writer at a time: the log is in rowid order.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from coupons.event_models import Event

# (txid, position) on PostgreSQL; (rowid, 0) on SQLite.
LogKey = tuple[int, int]

_TABLE = Event._meta.db_table
_COLUMNS = "id, type, created_at, data"

_AFTER_POSTGRES = f"""
    SELECT {_COLUMNS}, txid::text::bigint AS log_txid, position AS log_position
      FROM {_TABLE}
     WHERE (txid, position) > (%(txid)s::text::xid8, %(position)s)
       AND txid < pg_snapshot_xmin(pg_current_snapshot())
       {{types}}
     ORDER BY txid, position
     LIMIT %(limit)s
"""  # noqa: S608 - the table name is ours; values are parameters

_AFTER_SQLITE = f"""
    SELECT {_COLUMNS}, rowid AS log_txid, 0 AS log_position
      FROM {_TABLE}
     WHERE rowid > %(txid)s
       {{types}}
     ORDER BY rowid
     LIMIT %(limit)s
"""  # noqa: S608 - the table name is ours; values are parameters


def events_after(
    after: LogKey, *, types: Sequence[str] | None, limit: int
) -> list[tuple[Event, LogKey]]:
    """Up to `limit` events after `after` in log order (of `types` only, if given), each
    with its log key; only events whose transaction, and every one begun before it, has
    finished."""
    postgres = connection.vendor == "postgresql"
    params: dict[str, object] = {"txid": after[0], "position": after[1], "limit": limit}
    filtering = ""
    if types:
        if postgres:
            filtering, params["types"] = "AND type = ANY(%(types)s)", list(types)
        else:
            names = {f"type{i}": name for i, name in enumerate(types)}
            filtering = f"AND type IN ({', '.join(f'%({n})s' for n in names)})"
            params.update(names)
    sql = (_AFTER_POSTGRES if postgres else _AFTER_SQLITE).format(types=filtering)
    return [
        (event, (int(event.log_txid), int(event.log_position)))  # type: ignore[attr-defined]
        for event in Event.objects.raw(sql, params)
    ]
