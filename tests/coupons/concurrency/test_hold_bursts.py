"""A burst mixing holds, confirms, releases, expiries (short TTLs) and plain redemptions on
two server processes: every answer is a success or a refusal of the contract, and the
invariants hold at the end (coupons: spent = live redemptions + held holds; the campaign's
counters = its rows, within max_redemptions and budget)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from django.utils import timezone

from access.services import api_keys
from coupons.models import Reservation, ReservationStatus
from coupons.services import campaigns
from coupons.services.batches import create_coupon_batch
from coupons.services.reservations import sweep_expired_holds
from tests.campaigns import broken_campaign_counters
from tests.coupons.concurrency.test_bursts import fire
from tests.factories import broken_invariants
from tests.servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDER = {"amount": 1000, "currency": "EUR"}
REFUSALS = {"coupon_exhausted", "campaign_exhausted", "budget_exhausted",
            "customer_limit_reached", "already_confirmed", "reservation_released",
            "reservation_expired"}  # fmt: skip


@pytest.fixture(scope="module")
def servers(burst_servers: list[Server]) -> list[Server]:
    return burst_servers  # the package's (conftest.py)


def post_all(servers: list[Server], headers: dict[str, str], posts: list[tuple[str, dict]]):
    no_headers: dict[str, str] = {}
    requests = [
        (f"{servers[i % len(servers)].url}{path}", body, no_headers)
        for i, (path, body) in enumerate(posts)
    ]
    responses = asyncio.run(fire(requests, headers))
    for response in responses:
        assert response.status_code in (200, 201, 409), response.text
        if response.status_code == 409:
            assert response.json()["code"] in REFUSALS, response.text
    return responses


def test_holds_confirms_releases_expiries_and_redemptions_keep_the_invariants(servers):
    _, key = api_keys.create_api_key(name="hold-burst", scope="redeem")
    headers = {"Authorization": f"Bearer {key}"}
    campaign = campaigns.create_campaign(
        name=f"holds-{uuid.uuid4().hex[:6]}", discount={"amount_off": 100, "currency": "EUR"},
        max_redemptions=24, budget={"amount": 2200, "currency": "EUR"}, per_customer_limit=3,
    )  # fmt: skip
    codes = create_coupon_batch(
        count=6, prefix="HB-", length=8, init_count=5, campaign_id=campaign.id
    )

    def body(i: int, **extra: Any) -> dict[str, Any]:
        return {"code": codes[i % len(codes)], "customer_id": f"c-{i % 9}", "order": ORDER,
                **extra}  # fmt: skip

    # Round 1: holds (a third of them expiring in a second) and redemptions at once.
    first = post_all(servers, headers, [
        ("/v1/reservations/", body(i, ttl_seconds=1 if i % 3 == 0 else 60)) if i % 4
        else ("/v1/redemptions/", body(i))
        for i in range(36)
    ])  # fmt: skip
    held = [r.json()["id"] for r in first if r.status_code == 201 and "status" in r.json()]
    assert held, "no hold was taken"
    # Round 2: confirm and release race on the same holds, with more holds and redemptions.
    second = post_all(servers, headers, [
        *((f"/v1/reservations/{h}/confirm/", {}) for h in held),
        *((f"/v1/reservations/{h}/release/", {}) for h in held[::2]),
        *(("/v1/redemptions/", body(i)) for i in range(8)),
    ])  # fmt: skip
    settled = second[: len(held)] + second[len(held) : len(held) + len(held[::2])]
    for hold_id in held[::2]:
        winners = [
            r for r in settled
            if r.status_code in (200, 201) and hold_id in r.request.url.path
        ]  # fmt: skip
        assert len(winners) <= 1, f"{hold_id}: {[w.text for w in winners]}"
    # Round 3: the short holds are past their expiry; redemptions reclaim them unswept.
    time.sleep(1.1)
    post_all(servers, headers, [("/v1/redemptions/", body(i)) for i in range(30)])
    assert broken_invariants() == []
    assert broken_campaign_counters() == []
    now = timezone.now()
    sweep_expired_holds(now=now)
    expired = Reservation.objects.filter(status=ReservationStatus.HELD, expires_at__lte=now)
    assert not expired.exists()
    assert broken_invariants() == []
    assert broken_campaign_counters() == []
