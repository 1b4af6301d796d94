"""The redeemable rule is defined once (`coupons.domain.rules.refusal_for`); the SQL that
spends a use and the QuerySet filter restate it for the database. This pins both to it
over every edge: active or not, each side of each window bound (equal included), and a
use left or none."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from coupons.db.raw import REDEEMABLE_SQL
from coupons.domain.rules import refusal_for
from coupons.models import Coupon

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
STARTS: dict[str, Any] = {"none": None, "before": NOW - SECOND, "at": NOW, "after": NOW + SECOND}
EXPIRES: dict[str, Any] = {"none": None, "before": NOW - SECOND, "at": NOW, "after": NOW + SECOND}

CASES = [
    (active, start, end, remaining)
    for active, start, end, remaining in itertools.product([True, False], STARTS, EXPIRES, [0, 1])
    # The table's CHECK: a window opens before it closes.
    if STARTS[start] is None or EXPIRES[end] is None or STARTS[start] < EXPIRES[end]
]


def sql_says_redeemable(coupon: Coupon) -> bool:
    params = {"now": connection.ops.adapt_datetimefield_value(NOW), "id": coupon.pk}
    if connection.vendor != "postgresql":
        params["id"] = coupon.pk.hex
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Coupon._meta.db_table} WHERE id = %(id)s AND {REDEEMABLE_SQL}",
            params,
        )
        return cursor.fetchone() is not None


@pytest.mark.parametrize(("active", "start", "end", "remaining"), CASES)
def test_the_sql_and_the_filter_agree_with_the_rule(active, start, end, remaining):
    coupon = Coupon.objects.create(
        code=f"RULE-{int(active)}-{start}-{end}-{remaining}",
        init_count=1,
        remaining_count=remaining,
        is_active=active,
        starts_at=STARTS[start],
        expires_at=EXPIRES[end],
    )
    by_rule = refusal_for(coupon, now=NOW, customer_id="c-1") is None

    assert sql_says_redeemable(coupon) is by_rule
    assert Coupon.objects.redeemable(NOW).filter(pk=coupon.pk).exists() is by_rule


def test_the_cases_cover_both_answers():
    answers = {
        refusal_for(
            Coupon(is_active=a, starts_at=STARTS[s], expires_at=EXPIRES[e], remaining_count=r),
            now=NOW,
            customer_id=None,
        )
        is None
        for a, s, e, r in CASES
    }
    assert answers == {True, False}
