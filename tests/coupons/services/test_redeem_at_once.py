"""The one-statement redemption keeping an Idempotency-Key's answer in the statement that
spends (a flash sale's hot row is locked for that statement and its commit only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access.api.idempotency import stored_json
from access.models import IdempotencyRecord
from access.services.api_keys import create_api_key
from access.services.idempotency import KeptBy, StoredAnswer
from coupons.domain.discounts import Discount, Order
from coupons.models import Coupon, Redemption
from coupons.services.coupons import create_coupon
from coupons.services.redemptions import RedemptionRecord, get_redemption, redeem_at_once
from coupons.shapes import REDEMPTION
from events.models import Event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def render(redemption: RedemptionRecord) -> StoredAnswer:
    location = f"http://testserver/v1/redemptions/{redemption.id}/"
    return stored_json(REDEMPTION(redemption), status=201, headers={"Location": location})


def keep(key: str) -> KeptBy:
    api_key, _ = create_api_key(name="checkout", scope="redeem")
    return KeptBy(api_key_id=api_key.id, key=key, fingerprint="f" * 64)


@pytest.mark.parametrize(
    ("discount", "fields"),
    [
        (None, {}),
        (
            Discount(percent_off=Decimal("12.5"), currency="EUR", max_amount_off=100),
            {"order": Order(amount=999, currency="EUR"), "order_id": "o-\"1\"",
             "metadata": {"note": "hole-code-0"}},
        ),
    ],
)  # fmt: skip
def test_the_answer_is_kept_by_the_statement_that_spends(discount: Any, fields: Any) -> None:
    create_coupon(code="Flash-1", init_count=3, discount=discount)
    kept_by = keep("k-1")

    with CaptureQueriesContext(connection) as queries:
        answer = redeem_at_once(code="FLASH-1", render=render, keep=kept_by, **fields)

    assert answer is not None
    assert len(queries) == 1  # spend, redemption, event and kept answer: one statement
    redemption = Redemption.objects.get()
    # Byte for byte what the answer of the same redemption read back renders.
    assert answer == render(get_redemption(redemption.id))
    assert REDEMPTION(get_redemption(redemption.id))["code"] == "Flash-1"
    kept = IdempotencyRecord.objects.get()
    assert (kept.key, kept.status_code, kept.body.encode(), kept.headers) == (
        "k-1", 201, answer.body, answer.headers,
    )  # fmt: skip
    assert Event.objects.get(type="redemption.created").data == REDEMPTION(
        get_redemption(redemption.id)
    )


def test_where_the_statement_does_not_apply_nothing_is_written() -> None:
    create_coupon(code="LAST-ONE", init_count=1)  # the last use takes the general path
    kept_by = keep("k-2")

    assert redeem_at_once(code="last-one", render=render, keep=kept_by) is None

    assert not IdempotencyRecord.objects.exists()
    assert not Redemption.objects.exists()
    assert Coupon.objects.get().remaining_count == 1
