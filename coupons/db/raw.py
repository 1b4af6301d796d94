"""Raw SQL for the hot paths, where the ORM's query building and `Model.save()` cost more
than the database work (profiles in docs/performance.md). Most are PostgreSQL's and fall
back to the ORM on SQLite, which serves development; a coupon row read here, on either
database, becomes values in one place (`converted`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from django.db import IntegrityError, connection
from django.utils import timezone

from coupons.domain.discounts import discount_columns
from coupons.domain.writable import COUPON_FIELDS, all_columns, batch_fields
from coupons.models import Coupon, Redemption
from events.models import Event

_COUPONS, _REDEMPTIONS = Coupon._meta.db_table, Redemption._meta.db_table
_EVENTS = Event._meta.db_table
_COUPON_COLUMNS = [str(f.column) for f in Coupon._meta.concrete_fields]
_COUPON_FIELDS = [f.attname for f in Coupon._meta.concrete_fields]
_INSERT_COUPON = (
    f"INSERT INTO {_COUPONS} ({', '.join(_COUPON_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_COUPON_COLUMNS))})"
)
_ALL_COLUMNS = tuple(_COUPON_COLUMNS)
_SELECT_COUPON = f"SELECT {', '.join(_COUPON_COLUMNS)} FROM {_COUPONS} WHERE "  # noqa: S608

# `coupons.domain.rules.refusal_for` (less the per-customer checks) as SQL over the row,
# for a moment `%(now)s`; pinned to it by tests/coupons/domain/test_redeemable_rule.py.
REDEEMABLE_SQL = """
    is_active
    AND remaining_count > 0
    AND (starts_at IS NULL OR starts_at <= %(now)s)
    AND (expires_at IS NULL OR expires_at > %(now)s)
"""


# `coupons.domain.rules.order_refusal_for` for a redemption (an order required) as SQL
# over the row, for an order `%(order_amount)s` in `%(currency)s` (both NULL: none sent):
# a coupon without a discount takes any order or none; one with a discount needs an order
# in its currency (if it names one) of at least its minimum. Pinned by
# tests/coupons/domain/test_redeemable_rule.py.
ORDER_FITS_SQL = """
    ((discount_percent_off IS NULL AND discount_amount_off IS NULL)
     OR (%(order_amount)s::bigint IS NOT NULL
         AND (discount_currency IS NULL OR discount_currency = %(currency)s::text)
         AND (discount_min_order_amount IS NULL
              OR discount_min_order_amount <= %(order_amount)s::bigint)))
"""


def fetch_named[Row: NamedTuple](cursor: Any, row_type: Callable[..., Row]) -> Row | None:
    """The cursor's next row as `row_type`, each field taken by the column's name in the
    SQL, never by its position; None when there is none."""
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column.name for column in cursor.description]
    return row_type(**dict(zip(names, row, strict=True)))


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def violates(exc: IntegrityError, constraint: str) -> bool:
    cause = exc.__cause__
    diag_name = getattr(getattr(cause, "diag", None), "constraint_name", None)
    return diag_name == constraint or constraint in str(exc)


# Each column's value when a create does not give it: the field's own default (a fresh
# `{}` for metadata), else NULL. Fields without a Python default get None, which only
# nullable columns accept, as Model.save() would send.
_DEFAULTED = [(f.attname, f.get_default) for f in Coupon._meta.concrete_fields if f.has_default()]
_FIELDS = list(Coupon._meta.concrete_fields)


def _new_coupon(fields: dict[str, Any]) -> tuple[Coupon, list[Any]]:
    """The coupon `fields` describe, every column given (a field's default where `fields`
    has none, so the instance is exact), and its INSERT's parameters."""
    now = timezone.now()
    values = {name: default() for name, default in _DEFAULTED}
    values.update(fields)
    values.update(id=uuid.uuid4(), created_at=now, updated_at=now)
    row = [values.get(name) for name in _COUPON_FIELDS]
    # As Model.save() sends them: a dict becomes jsonb, a Decimal is quantized, ...
    params = [
        field.get_db_prep_save(value, connection) for field, value in zip(_FIELDS, row, strict=True)
    ]
    return Coupon.from_db(connection.alias, _COUPON_FIELDS, row), params


def insert_coupon(fields: dict[str, Any]) -> Coupon:
    """One INSERT without `Model.save()`."""
    if not is_postgres():
        return Coupon.objects.create(**fields)
    coupon, params = _new_coupon(fields)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_COUPON, params)
    return coupon


# A create and its `coupon.created` event in ONE statement, atomic by itself (no BEGIN and
# COMMIT round trips): the event row is written only if the coupon row is.
_INSERT_COUPON_AND_EVENT = f"""
    WITH created AS ({_INSERT_COUPON} RETURNING 1)
    INSERT INTO {_EVENTS} (id, type, created_at, data)
    SELECT %s, %s, %s, %s FROM created
"""  # noqa: S608 - the table names are ours; values are parameters


def insert_coupon_and_event(
    fields: dict[str, Any], *, event_type: str, encode: Callable[[Coupon], dict[str, Any]]
) -> Coupon:
    """As `insert_coupon`, and its event (`encode(coupon)`, as the API answers it) in the
    same statement; PostgreSQL outside a transaction only (the caller checks)."""
    coupon, params = _new_coupon(fields)
    data = _EVENT_DATA.get_db_prep_save(encode(coupon), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_COUPON_AND_EVENT,
            [*params, uuid.uuid4(), event_type, coupon.created_at, data],
        )
    return coupon


# Columns by name, for rows that carry some of a coupon's columns (a RETURNING list).
_COUPON_FIELD_OF = {str(f.column): f for f in _FIELDS}
_EVENT_DATA = Event._meta.get_field("data")


@cache
def _converters(columns: tuple[str, ...]) -> list[tuple[int, Any, list[Any]]]:
    """(position, column, converters) for each of a coupon's `columns` whose raw value
    needs converting, as a queryset's compiler would find them; worked out once per
    column list, not per read. PostgreSQL hands jsonb back as text; SQLite also hands
    back a NUMERIC as a float or an int, a uuid as hex text, a timestamp as text and a
    boolean as 0 or 1."""
    found = []
    for index, name in enumerate(columns):
        field = _COUPON_FIELD_OF[name]
        column = field.get_col(Coupon._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


def converted(columns: tuple[str, ...], row: Sequence[Any]) -> list[Any]:
    """A raw row of a coupon's `columns` (in order) as the ORM would read it: the one
    place where this module's raw reads become values, on either database."""
    values = list(row)
    for index, column, converters in _converters(columns):
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    return values


def coupon_from_row(row: Sequence[Any]) -> Coupon:
    """A Coupon from a row of `_COUPON_COLUMNS` in order, converted as the ORM would."""
    return Coupon.from_db(connection.alias, _COUPON_FIELDS, converted(_ALL_COLUMNS, row))


def one_coupon(*, coupon_id: uuid.UUID | None = None, code_key: str | None = None) -> Coupon | None:
    """One coupon by id or by upper-cased code (an indexed condition), without compiling a
    queryset."""
    if not is_postgres():
        if coupon_id is not None:
            return Coupon.objects.filter(pk=coupon_id).first()
        return Coupon.objects.filter(code__upper=code_key).first()
    if coupon_id is not None:
        where, value = "id = %s", Coupon._meta.pk.get_db_prep_value(coupon_id, connection)
    else:
        where, value = "UPPER(code) = %s", code_key
    with connection.cursor() as cursor:
        cursor.execute(_SELECT_COUPON + where, [value])
        row = cursor.fetchone()
    return None if row is None else coupon_from_row(row)


# What spending a use hands back: the row as it is left, for the checks that follow.
_SPENT_COLUMNS = (
    "id", "code", "remaining_count", "per_customer_limit", *discount_columns(None),
    "campaign_id",
)  # fmt: skip
SPEND_ONE_USE = f"""
    UPDATE {_COUPONS}
       SET remaining_count = remaining_count - 1, updated_at = %(now)s
     WHERE UPPER(code) = %(code)s AND {REDEEMABLE_SQL}
 RETURNING {", ".join(_SPENT_COLUMNS)}
"""  # noqa: S608 - the table name is ours; values are parameters

# A hold takes the use as a redemption does, and counts it as held (coupons.services.
# reservations): the same test, the same row lock, one more column.
SPEND_ONE_HOLD = f"""
    UPDATE {_COUPONS}
       SET remaining_count = remaining_count - 1, held_count = held_count + 1,
           updated_at = %(now)s
     WHERE UPPER(code) = %(code)s AND {REDEEMABLE_SQL}
 RETURNING {", ".join(_SPENT_COLUMNS)}
"""  # noqa: S608 - the table name is ours; values are parameters


class SpentUse(NamedTuple):
    coupon_id: uuid.UUID
    code: str
    remaining_count: int
    per_customer_limit: int | None
    # The coupon's discount columns (coupons.domain.discounts.discount_from_columns).
    discount_columns: dict[str, Any]
    campaign_id: uuid.UUID | None


def spend_one_use(*, code_key: str, now: datetime, hold: bool) -> SpentUse | None:
    """Spend one use of the coupon with the upper-cased code `code_key` if it is
    redeemable at `now` (as held, for a hold), in one statement that both tests and
    spends; the row stays locked until the caller's transaction ends. None when nothing
    was spent (the caller says why). On both databases."""
    params = {"now": connection.ops.adapt_datetimefield_value(now), "code": code_key}
    with connection.cursor() as cursor:
        cursor.execute(SPEND_ONE_HOLD if hold else SPEND_ONE_USE, params)
        row = cursor.fetchone()
    if row is None:
        return None
    coupon_id, code, remaining, limit, *discount, campaign_id = converted(_SPENT_COLUMNS, row)
    columns = dict(zip(_SPENT_COLUMNS[4:-1], discount, strict=True))
    return SpentUse(coupon_id, code, remaining, limit, columns, campaign_id)


# A batch's columns: the code, the counters and stamps, and the batch's writable fields
# (coupons.domain.writable), the same for every row.
_ROW_COLUMNS = (
    "remaining_count", "created_at", "updated_at", *all_columns(batch_fields(COUPON_FIELDS)),
)  # fmt: skip
_INSERT_COLUMNS = ("id", "code", *_ROW_COLUMNS)
# As Model.save() would send them (metadata as jsonb).
_INSERT_FIELDS = [
    next(f for f in Coupon._meta.concrete_fields if f.attname == name) for name in _ROW_COLUMNS
]


def insert_new_codes(codes: list[str], row: dict[str, Any]) -> list[Coupon]:
    """Insert one coupon per code in ONE statement; the codes that already existed (in any
    letter case) are skipped by the unique index and left out of the answer (the coupons
    inserted, as read back, for their events)."""
    if not codes:
        return []
    pk = Coupon._meta.pk
    values = [
        field.get_db_prep_save(row[name], connection)
        for name, field in zip(_ROW_COLUMNS, _INSERT_FIELDS, strict=True)
    ]
    params: list[Any] = []
    for code in codes:
        params.extend([pk.get_db_prep_value(uuid.uuid4(), connection), code, *values])
    return _insert_skipping_taken(len(codes), params)


def insert_coupon_rows(rows: list[dict[str, Any]]) -> list[Coupon]:
    """As `insert_new_codes`, each row with its own code and values (an import): one
    statement, codes already taken (or repeated within `rows`) skipped and left out."""
    if not rows:
        return []
    pk = Coupon._meta.pk
    params: list[Any] = []
    for row in rows:
        params.append(pk.get_db_prep_value(uuid.uuid4(), connection))
        params.append(row["code"])
        params.extend(
            field.get_db_prep_save(row[name], connection)
            for name, field in zip(_INSERT_COLUMNS[2:], _INSERT_FIELDS, strict=True)
        )
    return _insert_skipping_taken(len(rows), params)


def _insert_skipping_taken(count: int, params: list[Any]) -> list[Coupon]:
    placeholders = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
    sql = (
        f"INSERT INTO {_COUPONS} ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * count)} "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(_COUPON_COLUMNS)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [coupon_from_row(r) for r in cursor.fetchall()]
