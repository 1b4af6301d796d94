"""The event log's reader: events in commit-safe order after a position, the one place
that knows the log's order (PostgreSQL's `txid`, `position` columns of migration 0009).

A plain "id > last" cursor loses events: ids (or positions) are taken in one order and
committed in another, so a reader can pass a position whose transaction commits later.
Here a reader only ever sees events of transactions older than its snapshot's xmin: every
transaction below xmin has finished (committed or rolled back), so the set of events
before that line is final, and a cursor on (txid, position) can never step over one that
commits later. The price: an event shows only once every transaction that began before
its own has ended, so one long-open transaction delays the whole log (not the change).

Only transactions that could write to this table hold the line back: those of this
database. PostgreSQL's transaction ids are shared by every database of the server, so a
transaction open in another database (another application, another test suite) would
hold back a plain xmin line; here the line is the oldest transaction of the snapshot that
is still running in this database, or whose database cannot be told (it ended since, or
its session is not visible to this role): never later than it should be.

SQLite (development only) has one writer at a time: the log is in rowid order.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from events.models import Event

# (txid, position) on PostgreSQL; (rowid, 0) on SQLite.
LogKey = tuple[int, int]

_TABLE = Event._meta.db_table
_COLUMNS = "id, type, created_at, data"

# The line: the oldest transaction in the snapshot's list of running ones (xip) that may
# write here, else the snapshot's xmax. A running transaction is left out only when
# pg_stat_activity shows it in another database (backend_xid is the 32-bit form).
_LINE = """
    COALESCE(
        (SELECT min(running)
           FROM pg_snapshot_xip(pg_current_snapshot()) AS running
          WHERE NOT EXISTS (
                SELECT 1 FROM pg_stat_activity AS session
                 WHERE session.backend_xid IS NOT NULL
                   AND session.datname IS DISTINCT FROM current_database()
                   AND session.backend_xid::text::bigint = running::text::bigint %% 4294967296)),
        pg_snapshot_xmax(pg_current_snapshot()))
"""

# Events after the cursor in log order, each marked final (below the line) or not: the
# final ones come first (lower txids), and a non-final one tells the caller that an event
# is committed but held back by an older transaction still running.
_AFTER_POSTGRES = f"""
    WITH line AS MATERIALIZED (SELECT {_LINE} AS txid)
    SELECT {_COLUMNS}, event.txid::text::bigint AS log_txid, position AS log_position,
           event.txid < line.txid AS log_final
      FROM {_TABLE} AS event, line
     WHERE (event.txid, position) > (%(txid)s::text::xid8, %(position)s)
       {{types}}
     ORDER BY event.txid, position
     LIMIT %(limit)s
"""  # noqa: S608 - the table name is ours; values are parameters

_AFTER_SQLITE = f"""
    SELECT {_COLUMNS}, rowid AS log_txid, 0 AS log_position, 1 AS log_final
      FROM {_TABLE}
     WHERE rowid > %(txid)s
       {{types}}
     ORDER BY rowid
     LIMIT %(limit)s
"""  # noqa: S608 - the table name is ours; values are parameters


def events_after(
    after: LogKey, *, types: Sequence[str] | None, limit: int
) -> tuple[list[tuple[Event, LogKey]], bool]:
    """Up to `limit` events after `after` in log order (of `types` only, if given), each
    with its log key: only events whose transaction, and every one of this database begun
    before it, has finished. And whether a committed event after those is held back by an
    older transaction still running (asking again shortly will show it)."""
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
    final: list[tuple[Event, LogKey]] = []
    for event in Event.objects.raw(sql, params):
        if not event.log_final:  # type: ignore[attr-defined]
            return final, True
        final.append((event, (int(event.log_txid), int(event.log_position))))  # type: ignore[attr-defined]
    return final, False


_NEWEST = f"SELECT max(txid)::text::bigint FROM {_TABLE}"  # noqa: S608 - our table
_LINE_PASSED = f"SELECT ({_LINE})::text::bigint > %s"


def newest_txid() -> int | None:
    """The transaction of the newest event committed now (PostgreSQL), or None."""
    with connection.cursor() as cursor:
        cursor.execute(_NEWEST)
        row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def line_passed(txid: int) -> bool:
    """Whether every transaction of this database up to `txid` has finished, so its
    events and all before them are final (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(_LINE_PASSED, [txid])
        row = cursor.fetchone()
    return bool(row and row[0])
