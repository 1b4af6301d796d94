"""Raw SQL for a group of codes on one order (a redemption group or a reservation group): its
coupon rows looked up and locked by code in one statement, and everything it writes once
its checks have passed (the uses, the group row, its members, their events) in one more.
PostgreSQL's; on SQLite, which serves development, the same functions take the ORM."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from django.db import connection
from django.db.models import F, JSONField, Model

from coupons.db.raw import coupon_from_row, is_postgres
from coupons.models import Coupon

_COUPONS = Coupon._meta.db_table
_COUPON_COLUMNS = ", ".join(str(f.column) for f in Coupon._meta.concrete_fields)

# The code lookup and the lock in one statement: the rows are locked in id order (the
# ORDER BY), the lock order of coupons.services.group_spending, whatever order the codes
# came in. Each row carries its code as compared (UPPER, the lookup's own index).
_LOCK_BY_CODE = f"""
    SELECT UPPER(code), {_COUPON_COLUMNS} FROM {_COUPONS}
     WHERE UPPER(code) = ANY(%s) ORDER BY id FOR UPDATE
"""  # noqa: S608 - the table name is ours; values are parameters


def lock_coupons_by_code(keys: Sequence[str]) -> dict[str, Coupon]:
    """The coupons whose upper-cased codes are `keys`, by key, their rows locked until the
    caller's transaction ends; a key no coupon has is left out."""
    if not is_postgres():
        found = Coupon.objects.select_for_update(of=("self",)).filter(code__upper__in=keys)
        return {c.code.upper(): c for c in found.order_by("id")}
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_BY_CODE, [list(keys)])
        rows = cursor.fetchall()
    return {row[0]: coupon_from_row(row[1:]) for row in rows}


@cache
def _insert_sql(model: type[Model]) -> tuple[str, tuple[str, ...]]:
    """An INSERT of a model's new rows given as ONE jsonb array of objects (a parameter),
    inserted in the array's order, and the attributes each object holds. One parameter
    per table keeps the statement short and its parameters few, so psycopg parses it once
    per process rather than once per call."""
    fields = model._meta.concrete_fields
    columns = ", ".join(str(f.column) for f in fields)
    table = model._meta.db_table
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608 - our table
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) WITH ORDINALITY "
        "ORDER BY ordinality"
    )
    return sql, tuple(str(f.column) for f in fields)


def _json_value(value: Any) -> Any:
    """A column's value as jsonb_populate_recordset reads it back into the column's type
    (a JSON column's value is JSON already)."""
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _rows_json(model: type[Model], rows: Sequence[Model]) -> str:
    attnames = [f.attname for f in model._meta.concrete_fields]
    _, columns = _insert_sql(model)
    return json.dumps(
        [
            {
                column: _json_value(getattr(row, name))
                for column, name in zip(columns, attnames, strict=True)
            }
            for row in rows
        ],
        separators=(",", ":"),
    )


def _jsonb_ordered(value: Any) -> Any:
    """A JSON value as PostgreSQL's jsonb hands it back: an object's keys shorter first,
    those of one length in byte order."""
    if isinstance(value, dict):
        return {key: _jsonb_ordered(value[key]) for key in _jsonb_key_order(tuple(value))}
    if isinstance(value, list):
        return [_jsonb_ordered(item) for item in value]
    return value


@lru_cache(maxsize=1024)  # an order's lines and allocations repeat the same few key sets
def _jsonb_key_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(keys, key=lambda k: (len(k.encode()), k.encode())))


@cache
def _json_fields(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields if isinstance(f, JSONField))


def as_written[M: Model](row: M) -> M:
    """`row` (not saved yet) with its JSON values as reading it back once written would
    give them, so that what is built from it answers as a read would: on PostgreSQL,
    jsonb orders an object's keys its own way; SQLite keeps the text as written."""
    if is_postgres():
        for name in _json_fields(type(row)):
            setattr(row, name, _jsonb_ordered(getattr(row, name)))
    return row


def spend_and_write(
    coupon_ids: Sequence[uuid.UUID], *, hold: bool, now: datetime, rows: Sequence[Sequence[Model]]
) -> int:
    """Take one use of each coupon (as held, for a hold) and insert `rows` (each a list of
    one model's new rows, inserted in that order): ONE statement on PostgreSQL. How many
    coupons gave a use: the caller checked each under its lock, and raises when not all
    did (its transaction then rolls back)."""
    if not is_postgres():
        held = {"held_count": F("held_count") + 1} if hold else {}
        spent = Coupon.objects.filter(pk__in=coupon_ids, remaining_count__gt=0).update(
            remaining_count=F("remaining_count") - 1, updated_at=now, **held
        )
        for new in rows:
            type(new[0])._default_manager.bulk_create(new)
        return spent
    held_sql = ", held_count = held_count + 1" if hold else ""
    ctes = [
        f"""spent AS (
            UPDATE {_COUPONS}
               SET remaining_count = remaining_count - 1{held_sql}, updated_at = %s
             WHERE id = ANY(%s) AND remaining_count > 0
         RETURNING 1
        )"""  # noqa: S608 - the table name is ours; values are parameters
    ]
    params: list[Any] = [
        connection.ops.adapt_datetimefield_value(now),
        [Coupon._meta.pk.get_db_prep_value(pk, connection) for pk in coupon_ids],
    ]
    for number, new in enumerate(rows):
        model = type(new[0])
        ctes.append(f"written_{number} AS ({_insert_sql(model)[0]})")
        params.append(_rows_json(model, new))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} SELECT count(*) FROM spent", params)  # noqa: S608
        row = cursor.fetchone()
    return int(row[0])
