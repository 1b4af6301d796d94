"""A redemption in ONE statement (the use spent, its row, its event, with an Idempotency-Key
its answer): the hot path of coupons.services.redemptions, PostgreSQL's only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from django.db import connection

from access.services.idempotency import AnswerWithHoles, keep_answer_params, keep_answer_sql
from coupons.db.discount_sql import discount_sql
from coupons.db.raw import ORDER_FITS_SQL, REDEEMABLE_SQL, fetch_named
from coupons.domain.discounts import discount_columns
from coupons.models import Coupon, Redemption
from events.models import Event

_COUPONS, _REDEMPTIONS = Coupon._meta.db_table, Redemption._meta.db_table
_EVENTS = Event._meta.db_table
_FIELDS = list(Coupon._meta.concrete_fields)

# The common case in ONE statement, atomic by itself: spend the use, write the redemption
# row and its `redemption.created` event together (with an Idempotency-Key, its answer
# too), with no BEGIN/COMMIT round trips. Only for a coupon of no campaign (those take
# coupons.services.campaign_redemptions) and no per-customer limit, with more than one use
# left: the last use takes the general path, which writes `coupon.exhausted` in its
# transaction too. The event's data is the caller's (encoded by coupons.shapes.REDEMPTION)
# with the values only the statement knows set from its rows; tests/events/test_event_log.py
# pins it to the API's answer. Two ways to know the discount:
# - a plain order (no lines, no shipping) of a coupon without targeting, with no read of
#   the coupon first: the discount is computed from the row the UPDATE returns (locked, as
#   committed last), by the expression pinned to coupons.domain.discounts.discount_for;
# - priced (coupons.domain.carts, in Python, from the coupon as read): the UPDATE spends
#   only if the row still has every discount column it was priced with, so a discount
#   changed meanwhile is never applied at its old price (the general path decides then).
_DISCOUNT = discount_sql(
    order_amount="%(order_amount)s",
    percent_off="spent.discount_percent_off",
    amount_off="spent.discount_amount_off",
    max_amount_off="spent.discount_max_amount_off",
)
# The values only the statement knows, as SQL over its rows: set in the event's data and,
# with an Idempotency-Key, filled into the kept answer's holes. A priced order knows all
# but the uses left (its code and id are create-only, its discount priced before).
_ROW_VALUES = {
    "coupon_id": "redeemed.coupon_id",
    "code": "spent.code",
    "remaining_count": "redeemed.remaining_after",
    "discount_amount": "redeemed.discount_amount",
    "shipping_discount_amount": "CASE WHEN redeemed.discount_amount IS NOT NULL THEN 0 END",
}
_PRICED_ROW_VALUES = {"remaining_count": _ROW_VALUES["remaining_count"]}
ROW_VALUE_FIELDS, PRICED_ROW_VALUE_FIELDS = tuple(_ROW_VALUES), tuple(_PRICED_ROW_VALUES)
# A redemption's columns of its order (coupons.services.priced_orders.use_columns) that the
# statement takes as parameters, as Model.save() would send them.
_USE_FIELDS = [
    next(f for f in Redemption._meta.concrete_fields if f.attname == name)
    for name in ("order_amount", "currency", "order_lines", "shipping_amount", "allocations",
                 "shipping_discount_amount")
]  # fmt: skip
_DISCOUNT_FIELDS = [f for f in _FIELDS if f.attname in discount_columns(None)]


def _use_fields(*, priced: bool) -> list[Any]:
    """The order's columns a redemption records: a plain order has no lines, shipping or
    allocations."""
    return _USE_FIELDS if priced else _USE_FIELDS[:2]


@cache
def _spend_and_record_sql(*, priced: bool, keep: bool) -> str:
    """The statement for a plain order or a priced one, keeping an answer or not."""
    if priced:
        # The row as it was read and priced: its id, and each discount column unchanged.
        unchanged = [
            f"{f.column} IS NOT DISTINCT FROM %(priced_{f.column})s::{f.cast_db_type(connection)}"
            for f in _DISCOUNT_FIELDS
        ]
        matched = " AND ".join(["id = %(coupon_id)s", *unchanged])
        discount, row_values = "%(discount_amount)s", _PRICED_ROW_VALUES
    else:
        matched = f"UPPER(code) = %(code)s AND discount_rules IS NULL AND {ORDER_FITS_SQL}"
        discount, row_values = _DISCOUNT, _ROW_VALUES
    used = _use_fields(priced=priced)
    uses = ", ".join(str(f.column) for f in used)
    ctes = f"""
    WITH spent AS (
        UPDATE {_COUPONS}
           SET remaining_count = remaining_count - 1, updated_at = %(now)s
         WHERE {matched}
           AND per_customer_limit IS NULL AND campaign_id IS NULL AND {REDEEMABLE_SQL}
           AND remaining_count > 1
     RETURNING id, code, remaining_count, discount_percent_off, discount_amount_off,
               discount_max_amount_off
    ), redeemed AS (
        INSERT INTO {_REDEMPTIONS}
               (id, coupon_id, customer_id, order_id, remaining_after, redeemed_at, api_key_id,
                metadata, discount_amount, {uses})
        SELECT %(id)s, id, %(customer_id)s, %(order_id)s, remaining_count, %(now)s,
               %(api_key_id)s, %(metadata)s, {discount},
               {", ".join(f"%({f.attname})s" for f in used)}
          FROM spent
        RETURNING coupon_id, remaining_after, discount_amount
    ), logged AS (
        INSERT INTO {_EVENTS} (id, type, created_at, data)
        SELECT %(event_id)s, 'redemption.created', %(now)s,
               %(event_data)s::jsonb || jsonb_build_object(
                   {", ".join(f"'{name}', {value}" for name, value in row_values.items())})
          FROM redeemed, spent
    )"""  # noqa: S608 - the table names and columns are ours; values are parameters
    returned = """
    SELECT redeemed.coupon_id, spent.code, redeemed.remaining_after AS remaining_count,
           redeemed.discount_amount"""
    if not keep:
        return f"{ctes} {returned} FROM redeemed, spent"
    return f"""{ctes}, kept AS (
        {keep_answer_sql(row_values, source="redeemed, spent")}
    ) {returned}, kept.body AS kept_body FROM redeemed, spent, kept"""


_REDEMPTION_METADATA = Redemption._meta.get_field("metadata")
_EVENT_DATA = Event._meta.get_field("data")


class Spent(NamedTuple):
    coupon_id: uuid.UUID
    code: str
    remaining_count: int
    discount_amount: int | None
    kept_body: str | None = None  # the answer kept for an Idempotency-Key, as kept


def spend_and_record(
    *,
    redemption_id: uuid.UUID,
    code_key: str,
    customer_id: str | None,
    order_id: str | None,
    use: Mapping[str, Any],
    metadata: dict[str, str],
    api_key_id: uuid.UUID | None,
    now: datetime,
    event_data: dict[str, Any],
    priced_with: Coupon | None = None,
    keep: AnswerWithHoles | None = None,
) -> Spent | None:
    """What was spent and recorded (the coupon, the exact code, the uses left, the
    discount); None when nothing was (the general path then decides, and says why).
    `use`: the order's columns (coupons.services.priced_orders.use_columns). Without
    `priced_with`, a plain order whose discount the statement computes; with it, the
    coupon as read, whose discount `use` was priced with: spent only if the row still
    has it. `event_data`: the redemption as the API answers it, but for the values the
    statement sets (`ROW_VALUE_FIELDS`, or `PRICED_ROW_VALUE_FIELDS`). `keep`: an
    Idempotency-Key's answer, those values its holes, kept by the same statement (the hot
    row's lock is held for that one statement and its commit); IntegrityError when the
    key's answer was kept meanwhile (access.services.idempotency.is_key_taken), with
    nothing written."""
    params: dict[str, Any] = {
        "now": now, "code": code_key, "id": redemption_id,
        "customer_id": customer_id, "order_id": order_id, "api_key_id": api_key_id,
        "metadata": _REDEMPTION_METADATA.get_db_prep_save(metadata, connection),
        "discount_amount": use.get("discount_amount"),
        "event_id": uuid.uuid4(),
        "event_data": _EVENT_DATA.get_db_prep_save(event_data, connection),
    }  # fmt: skip
    for f in _use_fields(priced=priced_with is not None):
        params[f.attname] = f.get_db_prep_save(use.get(f.attname), connection)
    if priced_with is not None:
        params["coupon_id"] = Coupon._meta.pk.get_db_prep_value(priced_with.pk, connection)
        for f in _DISCOUNT_FIELDS:
            value = getattr(priced_with, f.attname)
            params[f"priced_{f.column}"] = f.get_db_prep_save(value, connection)
    if keep is not None:
        params.update(keep_answer_params(keep))
    sql = _spend_and_record_sql(priced=priced_with is not None, keep=keep is not None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return fetch_named(cursor, Spent)
