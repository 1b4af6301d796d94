"""GET /v1/redemptions/export/: a coupon's or a campaign's redemptions as a CSV stream,
oldest first, through the ASGI app."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from asgiref.sync import sync_to_async

from coupons.services import exports
from tests.coupons.reports.ledger import build_ledger, redeem_at
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


async def export(api, manage, **params):
    response = await api.get("/v1/redemptions/export/", params=params, headers=manage)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


async def test_a_campaigns_redemptions_oldest_first_with_their_orders(api, manage):
    ledger = await sync_to_async(build_ledger)()

    rows = await export(api, manage, campaign_id=str(ledger.campaign.pk))

    assert rows[0] == ["id", "code", "customer_id", "order_id", "redeemed_at", "reverted_at",
                       "order_amount", "currency", "discount_amount"]  # fmt: skip
    body = rows[1:]
    # The ledger's 11 on the campaign's codes, and the 2 behind its confirmed holds.
    assert len(body) == 13
    assert [r[4] for r in body] == sorted(r[4] for r in body)
    # The two behind the holds, at one instant (then ordered by id), without an order.
    assert [r[2:] for r in body[:2]] == [["", "", "2026-01-01T00:00:00Z", "", "", "", ""]] * 2
    assert {body[0][1], body[1][1]} == {"AUTUMN-A", "AUTUMN-B"}
    assert body[0][0] < body[1][0]
    reverted = [r for r in body if r[5]]
    assert [(r[1], r[2], r[5], r[6], r[7], r[8]) for r in reverted] == [
        ("AUTUMN-B", "c3", "2026-11-02T00:00:00Z", "5000", "EUR", "500"),
        ("AUTUMN-B", "c4", "2026-10-25T23:05:00Z", "6000", "EUR", "500"),
    ]
    assert "ALONE" not in {r[1] for r in body}


async def test_a_coupons_export_streams_across_chunks_without_loss(api, manage, monkeypatch):
    ledger = await sync_to_async(build_ledger)()
    for _ in range(7):  # seven at one instant: the keyset's tie on redeemed_at
        await sync_to_async(redeem_at)(ledger.outsider, "2026-12-01T00:00:00Z", customer="t")
    monkeypatch.setattr(exports, "EXPORT_CHUNK", 3)

    rows = await export(api, manage, coupon_id=str(ledger.outsider.pk))

    ids = [r[0] for r in rows[1:]]
    assert len(ids) == 8 == len(set(ids))


@pytest.mark.parametrize(
    "params",
    [{}, {"coupon_id": "x"}, {"coupon_id": str(uuid.uuid4()), "campaign_id": str(uuid.uuid4())},
     {"campaign_id": str(uuid.uuid4()), "format": "csv"}],
)  # fmt: skip
async def test_bad_parameters_are_400s(api, manage, params):
    response = await api.get("/v1/redemptions/export/", params=params, headers=manage)

    assert_problem(response, 400, "validation_error")


async def test_an_unknown_campaign_is_a_404(api, manage):
    response = await api.get(
        "/v1/redemptions/export/", params={"campaign_id": str(uuid.uuid4())}, headers=manage
    )

    assert_problem(response, 404, "not_found")


async def test_a_redeem_key_may_not_export(api, redeem):
    response = await api.get(
        "/v1/redemptions/export/", params={"coupon_id": str(uuid.uuid4())}, headers=redeem
    )

    assert_problem(response, 403, "permission_denied")


async def test_the_admins_export_streams_over_asgi_without_buffering_warnings(api, recwarn):
    from tests.coupons.admin.test_over_asgi import staff_session_cookie

    ledger = await sync_to_async(build_ledger)()
    session = await staff_session_cookie()

    response = await api.get(
        f"/admin/coupons/campaign/{ledger.campaign.pk}/redemptions.csv",
        headers={"Cookie": f"sessionid={session}"},
    )

    assert response.status_code == 200 and response.headers["content-type"] == "text/csv"
    assert len(list(csv.reader(io.StringIO(response.text)))) == 1 + 13
    # An async iterator: Django streams it as it comes, rather than consuming a sync one
    # whole into a list first (its warning says so).
    assert not [w for w in recwarn if "synchronous iterators" in str(w.message)]
