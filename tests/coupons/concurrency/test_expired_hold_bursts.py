"""Expiry never keeps a use from anyone, under a burst: every use that expired, unswept holds
took is redeemed by a burst of as many concurrent redemptions on two server processes, for
a coupon's uses and for a campaign's capacity (issue 24, finding 2). The servers run
bin/serve alone: no worker, so no sweep returns the holds before the burst does."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from httpx import Response

from access.services import api_keys
from coupons.models import Reservation, ReservationStatus
from coupons.services import campaigns
from coupons.services.coupons import create_coupon
from coupons.services.reservations import hold_coupon
from tests.campaigns import broken_campaign_counters
from tests.coupons.concurrency.test_bursts import fire, warm_up
from tests.factories import broken_invariants
from tests.servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

USES = 20


@pytest.fixture(scope="module")
def servers(burst_servers: list[Server]) -> list[Server]:
    return burst_servers  # the package's (conftest.py)


@pytest.fixture
def headers() -> dict[str, str]:
    _, key = api_keys.create_api_key(name=f"expired-{uuid.uuid4().hex[:6]}", scope="manage")
    return {"Authorization": f"Bearer {key}"}


def hold_expired(codes: list[str]) -> None:
    """One hold of `ttl_seconds: 1` per code, taken 1.5 s ago: each past its expiry now,
    and held still (nothing swept it)."""
    taken_at = timezone.now() - timedelta(seconds=1.5)
    for code in codes:
        hold_coupon(code=code, ttl_seconds=1, now=taken_at)
    assert Reservation.objects.filter(
        status=ReservationStatus.HELD, expires_at__lte=timezone.now()
    ).count() == len(codes)


def burst(servers: list[Server], headers: dict[str, str], codes: list[str]) -> list[Response]:
    """One redemption of each of `codes`, all at once, spread over the servers."""
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (f"{servers[i % len(servers)].url}/v1/redemptions/", {"code": code}, {})
        for i, code in enumerate(codes)
    ]
    return asyncio.run(fire(requests, headers))


def outcomes(responses: list[Response]) -> Counter[str]:
    return Counter(
        "redeemed" if r.status_code == 201 else f"{r.status_code} {r.json().get('code')}"
        for r in responses
    )


def test_a_burst_redeems_every_use_a_coupons_expired_holds_took(servers, headers):
    coupon = create_coupon(code=f"EXP-{uuid.uuid4().hex[:8]}", init_count=USES)
    warm_up(servers, headers, coupon)
    hold_expired([coupon.code] * USES)

    responses = burst(servers, headers, [coupon.code] * USES)

    assert outcomes(responses) == {"redeemed": USES}
    assert broken_invariants() == []


def test_a_burst_redeems_every_use_a_campaigns_expired_holds_took(servers, headers):
    campaign = campaigns.create_campaign(
        name=f"expired-{uuid.uuid4().hex[:6]}", max_redemptions=USES
    )
    # Four codes of ten uses each: the campaign's capacity, not a code's uses, is short.
    codes = [
        create_coupon(code=f"EXPC-{uuid.uuid4().hex[:8]}", init_count=10, campaign_id=campaign.id)
        for _ in range(4)
    ]
    warm_up(servers, headers, codes[0])
    spread = [codes[i % len(codes)].code for i in range(USES)]
    hold_expired(spread)

    responses = burst(servers, headers, spread)

    assert outcomes(responses) == {"redeemed": USES}
    assert broken_invariants() == []
    assert broken_campaign_counters() == []
