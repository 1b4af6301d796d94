"""Raw SQL for the hot paths, where the ORM's query building and `Model.save()` cost more
than the database work (profiles in docs/performance.md). PostgreSQL only: each function
falls back to the ORM on SQLite, which serves development."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from django.db import IntegrityError, connection
from django.utils import timezone

from coupons.db.discount_sql import discount_sql
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

_DISCOUNT_COLUMNS = (
    "discount_percent_off, discount_amount_off, discount_currency, discount_max_amount_off, "
    "discount_min_order_amount"
)


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


@cache
def _coupon_converters() -> list[tuple[int, Any, list[Any]]]:
    """(position, column, converters) for each column whose raw value needs converting
    (jsonb arrives as text, to be parsed by JSONField.from_db_value), as a queryset's
    compiler would find them; worked out once, not per read."""
    found = []
    for index, field in enumerate(_FIELDS):
        column = field.get_col(Coupon._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


def coupon_from_row(row: Sequence[Any]) -> Coupon:
    """A Coupon from a row of `_COUPON_COLUMNS` in order, converted as the ORM would."""
    values = list(row)
    for index, column, converters in _coupon_converters():
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    return Coupon.from_db(connection.alias, _COUPON_FIELDS, values)


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


SPEND_ONE_USE = f"""
    UPDATE {_COUPONS}
       SET remaining_count = remaining_count - 1, updated_at = %(now)s
     WHERE UPPER(code) = %(code)s AND {REDEEMABLE_SQL}
 RETURNING id, code, remaining_count, per_customer_limit, {_DISCOUNT_COLUMNS}, campaign_id,
           discount_rules
"""  # noqa: S608 - the table name is ours; values are parameters

# A hold takes the use as a redemption does, and counts it as held (coupons.services.
# reservations): the same test, the same row lock, one more column.
SPEND_ONE_HOLD = f"""
    UPDATE {_COUPONS}
       SET remaining_count = remaining_count - 1, held_count = held_count + 1,
           updated_at = %(now)s
     WHERE UPPER(code) = %(code)s AND {REDEEMABLE_SQL}
 RETURNING id, code, remaining_count, per_customer_limit, {_DISCOUNT_COLUMNS}, campaign_id,
           discount_rules
"""  # noqa: S608 - the table name is ours; values are parameters

# The common case (no campaign, no per-customer limit, more than one use left, an order
# without lines or shipping that fits the discount if there is one, a discount without
# targeting, which only coupons.domain.carts prices) in ONE statement, atomic by itself: spend the
# use, write the redemption row and its `redemption.created` event together, with no
# BEGIN/COMMIT round trips and no read of the coupon first. The last use takes the general
# path, which writes `coupon.exhausted` in its transaction too. The event's data is the
# caller's (encoded by coupons.shapes.REDEMPTION) with the four values only the UPDATE
# knows set from its row; tests/test_events_fast_path.py pins it to the API's answer.
# The discount is computed from the row the UPDATE returns (locked, as committed
# last), by the expression pinned to coupons.domain.discounts.discount_for. A code of a
# campaign takes the general path (coupons.services.campaign_redemptions).
_DISCOUNT = discount_sql(
    order_amount="%(order_amount)s",
    percent_off="spent.discount_percent_off",
    amount_off="spent.discount_amount_off",
    max_amount_off="spent.discount_max_amount_off",
)
_SPEND_AND_RECORD = f"""
    WITH spent AS (
        UPDATE {_COUPONS}
           SET remaining_count = remaining_count - 1, updated_at = %(now)s
         WHERE UPPER(code) = %(code)s AND per_customer_limit IS NULL AND campaign_id IS NULL
           AND discount_rules IS NULL AND {REDEEMABLE_SQL}
           AND remaining_count > 1
           AND {ORDER_FITS_SQL}
     RETURNING id, code, remaining_count, discount_percent_off, discount_amount_off,
               discount_max_amount_off
    ), redeemed AS (
        INSERT INTO {_REDEMPTIONS}
               (id, coupon_id, customer_id, order_id, remaining_after, redeemed_at, api_key_id,
                order_amount, currency, discount_amount, metadata)
        SELECT %(id)s, id, %(customer_id)s, %(order_id)s, remaining_count, %(now)s,
               %(api_key_id)s, %(order_amount)s, %(currency)s, {_DISCOUNT}, %(metadata)s
          FROM spent
        RETURNING coupon_id, remaining_after, discount_amount
    ), logged AS (
        INSERT INTO {_EVENTS} (id, type, created_at, data)
        SELECT %(event_id)s, 'redemption.created', %(now)s,
               %(event_data)s::jsonb || jsonb_build_object(
                   'coupon_id', redeemed.coupon_id::text, 'code', spent.code,
                   'remaining_count', redeemed.remaining_after,
                   'discount_amount', redeemed.discount_amount,
                   'shipping_discount_amount',
                   CASE WHEN redeemed.discount_amount IS NOT NULL THEN 0 END)
          FROM redeemed, spent
    )
    SELECT redeemed.coupon_id, spent.code, redeemed.remaining_after, redeemed.discount_amount
      FROM redeemed, spent
"""  # noqa: S608 - the table names are ours; values are parameters
_REDEMPTION_METADATA = Redemption._meta.get_field("metadata")
_EVENT_DATA = Event._meta.get_field("data")


class Spent(NamedTuple):
    coupon_id: uuid.UUID
    code: str
    remaining_count: int
    discount_amount: int | None


def spend_and_record(
    *,
    redemption_id: uuid.UUID,
    code_key: str,
    customer_id: str | None,
    order_id: str | None,
    order_amount: int | None,
    currency: str | None,
    metadata: dict[str, str],
    api_key_id: uuid.UUID | None,
    now: datetime,
    event_data: dict[str, Any],
) -> Spent | None:
    """What was spent and recorded (the coupon, the exact code, the uses left, the
    discount); None when nothing was (the general path then decides, and says why).
    `event_data`: the redemption as the API answers it, but for `coupon_id`, `code`,
    `remaining_count` and `discount_amount`, which the statement sets."""
    params: dict[str, Any] = {
        "now": now, "code": code_key, "id": redemption_id,
        "customer_id": customer_id, "order_id": order_id, "api_key_id": api_key_id,
        "order_amount": order_amount, "currency": currency,
        "metadata": _REDEMPTION_METADATA.get_db_prep_save(metadata, connection),
        "event_id": uuid.uuid4(),
        "event_data": _EVENT_DATA.get_db_prep_save(event_data, connection),
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_SPEND_AND_RECORD, params)
        row = cursor.fetchone()
    return None if row is None else Spent(row[0], row[1], row[2], row[3])


_INSERT_COLUMNS = (
    "id", "code", "init_count", "remaining_count", "is_active", "starts_at", "expires_at",
    "per_customer_limit", "created_at", "updated_at", "discount_percent_off",
    "discount_amount_off", "discount_currency", "discount_max_amount_off",
    "discount_min_order_amount", "metadata", "campaign_id", "discount_rules",
)  # fmt: skip
# As Model.save() would send them (metadata as jsonb); the same for every row of a batch.
_INSERT_FIELDS = [
    next(f for f in Coupon._meta.concrete_fields if f.column == name)
    for name in _INSERT_COLUMNS[2:]
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
        for name, field in zip(_INSERT_COLUMNS[2:], _INSERT_FIELDS, strict=True)
    ]
    placeholders = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
    params: list[Any] = []
    for code in codes:
        params.extend([pk.get_db_prep_value(uuid.uuid4(), connection), code, *values])
    sql = (
        f"INSERT INTO {_COUPONS} ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(codes))} "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(_COUPON_COLUMNS)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [coupon_from_row(r) for r in cursor.fetchall()]
