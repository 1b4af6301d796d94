"""The conditional writes that take a campaign's capacity, its budget and a customer's slot;
row counts decide. `spend_campaign_use` is PostgreSQL's (SQLite takes the service's
read-then-update under its single writer); `take_customer_slot` runs on both."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from django.db import connection

from coupons.db.discount_sql import discount_sql
from coupons.db.raw import ORDER_FITS_SQL, fetch_named
from coupons.models.campaign import Campaign, CampaignCustomer

_CAMPAIGNS = Campaign._meta.db_table

# `coupons.domain.rules.campaign_refusal_for` (steps 3 to 5) as SQL over the campaign's
# row, for a moment `%(now)s` and an order `%(order_amount)s` in `%(currency)s`.
CAMPAIGN_REDEEMABLE_SQL = """
    is_active
    AND (starts_at IS NULL OR starts_at <= %(now)s)
    AND (expires_at IS NULL OR expires_at > %(now)s)
    AND (max_redemptions IS NULL OR redemption_count + held_count < max_redemptions)
"""

# The discount this order takes, from the campaign's own discount columns (NULL without a
# discount); the expression pinned to coupons.domain.discounts.discount_for.
_DISCOUNT = discount_sql(
    order_amount="%(order_amount)s",
    percent_off="discount_percent_off",
    amount_off="discount_amount_off",
    max_amount_off="discount_max_amount_off",
)

# One statement tests and takes capacity and budget, for an order priced as one amount by
# a discount without targeting (others: coupons.services.campaign_redemptions, in Python
# under the row's lock): the row lock it takes makes every
# other redemption of the campaign's codes wait for this transaction, so the counters
# (and a customer's count across the codes, taken next) are exact at every commit; the
# CHECK constraints on the row back it.
_SPEND_TEMPLATE = f"""
    UPDATE {_CAMPAIGNS}
       SET {{counter}} = {{counter}} + 1,
           discount_total = discount_total + COALESCE({_DISCOUNT}, 0),
           updated_at = %(now)s
     WHERE id = %(campaign_id)s AND {CAMPAIGN_REDEEMABLE_SQL} AND {ORDER_FITS_SQL}
       AND discount_rules IS NULL
       AND (per_customer_limit IS NULL OR %(customer_id)s::text IS NOT NULL)
       AND (budget_amount IS NULL OR discount_total + COALESCE({_DISCOUNT}, 0) <= budget_amount)
 RETURNING {_DISCOUNT} AS discount_amount, per_customer_limit
"""  # noqa: S608 - the table name is ours; values are parameters
# A redemption counts its use as a redemption; a hold, as held (both take capacity).
_SPEND = _SPEND_TEMPLATE.replace("{counter}", "redemption_count")
_SPEND_HOLD = _SPEND_TEMPLATE.replace("{counter}", "held_count")


class CampaignSpent(NamedTuple):
    discount_amount: int | None
    per_customer_limit: int | None


def spend_campaign_use(
    *,
    campaign_id: uuid.UUID,
    customer_id: str | None,
    order_amount: int | None,
    currency: str | None,
    now: datetime,
    hold: bool = False,
) -> CampaignSpent | None:
    """Take one redemption's capacity and its discount from the campaign's budget; None
    when the campaign refuses (the caller rolls back and says why)."""
    params = {
        "campaign_id": Campaign._meta.pk.get_db_prep_value(campaign_id, connection),
        "customer_id": customer_id,
        "order_amount": order_amount,
        "currency": currency,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_SPEND_HOLD if hold else _SPEND, params)
        return fetch_named(cursor, CampaignSpent)


_CUSTOMERS = CampaignCustomer._meta.db_table

# One statement takes a customer's slot in the campaign, or refuses (no row): the first
# redemption inserts the counter at 1, later ones add 1 only below the limit (NULL: no
# limit, still counted). A concurrent first insert of the same customer waits on the
# unique index and then takes the UPDATE branch, its condition re-checked on the row as
# committed, so the count decides however the two interleave.
_TAKE_SLOT = f"""
    INSERT INTO {_CUSTOMERS} (campaign_id, customer_id, live_count)
    VALUES (%(campaign_id)s, %(customer_id)s, 1)
    ON CONFLICT (campaign_id, customer_id) DO UPDATE
       SET live_count = {_CUSTOMERS}.live_count + 1
     WHERE %(limit)s IS NULL OR {_CUSTOMERS}.live_count < %(limit)s
 RETURNING live_count
"""  # noqa: S608 - the table name is ours; values are parameters


def take_customer_slot(*, campaign_id: uuid.UUID, customer_id: str, limit: int | None) -> bool:
    """Count one more live redemption of the customer across the campaign's codes,
    unless that would pass `limit`; whether it was counted."""
    params = {
        "campaign_id": Campaign._meta.pk.get_db_prep_value(campaign_id, connection),
        "customer_id": customer_id,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SLOT, params)
        return cursor.fetchone() is not None


def campaign_kept(campaign_id: uuid.UUID) -> bool:
    """Whether the campaign exists; in a transaction on PostgreSQL its row then stays locked
    FOR KEY SHARE until commit, so it cannot be deleted under the codes being added to it
    (their foreign key, deferred, would fail only at the commit, past every refusal). The
    lock blocks a delete only: counters' updates of the row go on. SQLite has one writer."""
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {_CAMPAIGNS} WHERE id = %s{lock}",  # noqa: S608 - our table
            [Campaign._meta.pk.get_db_prep_value(campaign_id, connection)],
        )
        return cursor.fetchone() is not None
