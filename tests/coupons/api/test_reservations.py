"""POST/GET /v1/reservations/, confirm and release, through the ASGI app; expiry by a
controlled clock (`now=`), never by sleeping."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from core.errors import (
    AlreadyConfirmed,
    CouponExhausted,
    ReservationExpired,
    ReservationReleased,
)
from coupons.models import Coupon, Reservation, ReservationStatus
from coupons.services import redemptions as redemption_service
from coupons.services import reservations as reservation_service
from tests.campaigns import ORDER, broken_campaign_counters, campaign_held_whole
from tests.factories import abroken_invariants, amake_coupon, broken_invariants, make_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {
    "id", "coupon_id", "code", "customer_id", "order_id", "order_amount", "currency",
    "discount_amount", "status", "expires_at", "created_at", "redemption_id", "metadata",
    "order", "allocations", "shipping_discount_amount", "group_id",
}  # fmt: skip


async def hold(api, headers, code, **body):
    return await api.post("/v1/reservations/", json={"code": code, **body}, headers=headers)


async def held_count(coupon_id) -> tuple[int, int]:
    coupon = await Coupon.objects.aget(pk=coupon_id)
    return coupon.remaining_count, coupon.held_count


async def test_a_hold_takes_a_use_and_shows_as_held(api, redeem, manage):
    coupon = await amake_coupon(
        "HOLD-ME", init_count=5, discount={"percent_off": Decimal("12.5"), "currency": "EUR"}
    )
    response = await hold(
        api, redeem, "hold-me", customer_id="c-1", order_id="o-7",
        order={"amount": 12999, "currency": "EUR"}, metadata={"cart": "9"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == FIELDS
    assert body["status"] == "held" and body["redemption_id"] is None
    assert body["code"] == "HOLD-ME" and body["discount_amount"] == 1625
    assert body["order_amount"] == 12999 and body["currency"] == "EUR"
    assert body["metadata"] == {"cart": "9"}
    assert response.headers["location"].endswith(f"/v1/reservations/{body['id']}/")
    assert await held_count(coupon.id) == (4, 1)
    shown = (await api.get(f"/v1/coupons/{coupon.id}/", headers=manage)).json()
    assert shown["held_count"] == 1 and shown["remaining_count"] == 4
    got = await api.get(f"/v1/reservations/{body['id']}/", headers=redeem)
    assert got.status_code == 200 and got.json() == body
    assert await abroken_invariants() == []


async def test_a_hold_is_refused_as_a_redemption_would_be(api, redeem):
    await amake_coupon("ONE-USE", init_count=1, per_customer_limit=1)
    assert_problem(await hold(api, redeem, "nope"), 404, "coupon_not_found")
    assert_problem(await hold(api, redeem, "one-use"), 400, "customer_id_required")
    assert (await hold(api, redeem, "one-use", customer_id="a")).status_code == 201
    assert_problem(await hold(api, redeem, "one-use", customer_id="b"), 409, "coupon_exhausted")
    redeemed = await api.post(
        "/v1/redemptions/", json={"code": "one-use", "customer_id": "b"}, headers=redeem
    )
    assert_problem(redeemed, 409, "coupon_exhausted")


async def test_a_customer_limit_counts_holds(api, redeem):
    await amake_coupon("LIMITED", init_count=5, per_customer_limit=1)
    assert (await hold(api, redeem, "limited", customer_id="a")).status_code == 201
    redeemed = await api.post(
        "/v1/redemptions/", json={"code": "limited", "customer_id": "a"}, headers=redeem
    )
    assert_problem(redeemed, 409, "customer_limit_reached")


@pytest.mark.parametrize("ttl", [0, 86_401, "60", 1.5])
async def test_a_ttl_out_of_range_is_a_400(api, redeem, ttl):
    await amake_coupon("TTL", init_count=1)
    assert_problem(await hold(api, redeem, "ttl", ttl_seconds=ttl), 400, "validation_error")


async def test_a_default_hold_lasts_fifteen_minutes(api, redeem):
    await amake_coupon("DEFAULT-TTL", init_count=1)
    body = (await hold(api, redeem, "default-ttl")).json()
    held = await Reservation.objects.aget(pk=body["id"])
    assert held.expires_at - held.created_at == timedelta(seconds=900)


async def test_confirm_turns_the_hold_into_a_redemption_once(api, redeem):
    coupon = await amake_coupon("CONFIRM", init_count=2)
    held = (await hold(api, redeem, "confirm", customer_id="c", order_id="o")).json()
    confirmed = await api.post(f"/v1/reservations/{held['id']}/confirm/", headers=redeem)
    assert confirmed.status_code == 201, confirmed.text
    redemption = confirmed.json()
    assert redemption["coupon_id"] == str(coupon.id) and redemption["remaining_count"] == 1
    assert redemption["customer_id"] == "c" and redemption["order_id"] == "o"
    assert await held_count(coupon.id) == (1, 0)
    after = (await api.get(f"/v1/reservations/{held['id']}/", headers=redeem)).json()
    assert after["status"] == "confirmed" and after["redemption_id"] == redemption["id"]
    again = await api.post(f"/v1/reservations/{held['id']}/confirm/", headers=redeem)
    assert_problem(again, 409, "already_confirmed")
    release = await api.post(f"/v1/reservations/{held['id']}/release/", headers=redeem)
    assert_problem(release, 409, "already_confirmed")
    assert await abroken_invariants() == []


async def test_release_gives_the_use_back_once(api, redeem):
    coupon = await amake_coupon("RELEASE", init_count=1)
    held = (await hold(api, redeem, "release")).json()
    released = await api.post(f"/v1/reservations/{held['id']}/release/", headers=redeem)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert await held_count(coupon.id) == (1, 0)
    again = await api.post(f"/v1/reservations/{held['id']}/release/", headers=redeem)
    assert_problem(again, 409, "reservation_released")
    confirm = await api.post(f"/v1/reservations/{held['id']}/confirm/", headers=redeem)
    assert_problem(confirm, 409, "reservation_released")
    assert await held_count(coupon.id) == (1, 0)
    assert await abroken_invariants() == []


async def test_unknown_reservations_are_404(api, redeem):
    missing = uuid.uuid4()
    assert_problem(await api.get(f"/v1/reservations/{missing}/", headers=redeem), 404, "not_found")
    for action in ("confirm", "release"):
        answer = await api.post(f"/v1/reservations/{missing}/{action}/", headers=redeem)
        assert_problem(answer, 404, "not_found")


async def test_a_retried_hold_with_its_key_takes_one_use(api, redeem):
    coupon = await amake_coupon("IDEM", init_count=3)
    headers = {**redeem, "Idempotency-Key": "k-1"}
    first = await hold(api, headers, "idem")
    second = await hold(api, headers, "idem")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await held_count(coupon.id) == (2, 1)
    confirm = {**redeem, "Idempotency-Key": "k-2"}
    url = f"/v1/reservations/{first.json()['id']}/confirm/"
    one, two = await api.post(url, headers=confirm), await api.post(url, headers=confirm)
    assert one.status_code == two.status_code == 201 and one.json() == two.json()


def test_a_hold_expires_at_its_boundary():
    coupon = make_coupon("BOUNDARY", init_count=1)
    start = timezone.now()
    held = reservation_service.hold_coupon(code="boundary", ttl_seconds=60, now=start)
    boundary = start + timedelta(seconds=60)
    # One microsecond before: still held (a confirm would succeed); at the boundary: gone.
    assert reservation_service.sweep_expired_holds(now=boundary - timedelta(microseconds=1)) == 0
    with pytest.raises(ReservationExpired):
        reservation_service.confirm_reservation(held.id, now=boundary)
    assert Reservation.objects.get(pk=held.id).status == ReservationStatus.EXPIRED
    coupon.refresh_from_db()
    assert (coupon.remaining_count, coupon.held_count) == (1, 0)
    assert broken_invariants() == []


def test_an_expired_hold_cannot_be_released_and_returns_once():
    make_coupon("LATE", init_count=1)
    start = timezone.now()
    held = reservation_service.hold_coupon(code="late", ttl_seconds=5, now=start)
    with pytest.raises(ReservationExpired):
        reservation_service.release_reservation(held.id, now=start + timedelta(seconds=5))
    with pytest.raises(ReservationExpired):
        reservation_service.release_reservation(held.id, now=start + timedelta(seconds=6))
    assert Coupon.objects.get(code="LATE").remaining_count == 1
    assert broken_invariants() == []


def test_an_expired_hold_never_keeps_a_use_from_anyone():
    coupon = make_coupon("LAST-ONE", init_count=1, per_customer_limit=1)
    start = timezone.now()
    reservation_service.hold_coupon(code="last-one", customer_id="a", ttl_seconds=10, now=start)
    with pytest.raises(CouponExhausted):
        redemption_service.redeem_coupon(code="last-one", customer_id="b", now=start)
    later = start + timedelta(seconds=10)
    # Not swept: the refused redemption gives the expired hold back itself, and succeeds.
    redeemed = redemption_service.redeem_coupon(code="last-one", customer_id="a", now=later)
    assert redeemed.remaining_count == 0
    coupon.refresh_from_db()
    assert (coupon.remaining_count, coupon.held_count) == (0, 0)
    assert broken_invariants() == []


def test_an_expired_hold_gives_its_campaign_capacity_and_budget_back():
    campaign, start = campaign_held_whole("CAMP")
    campaign.refresh_from_db()
    assert (campaign.held_count, campaign.discount_total) == (1, 500)
    assert broken_campaign_counters() == []
    later = start + timedelta(seconds=30)
    held = reservation_service.hold_coupon(code="camp-b", customer_id="x", order=ORDER, now=later)
    campaign.refresh_from_db()
    assert (campaign.held_count, campaign.redemption_count, campaign.discount_total) == (1, 0, 500)
    reservation_service.confirm_reservation(held.id, now=later)
    campaign.refresh_from_db()
    assert (campaign.held_count, campaign.redemption_count, campaign.discount_total) == (0, 1, 500)
    assert broken_campaign_counters() == [] and broken_invariants() == []


def test_the_sweep_returns_expired_holds_and_marks_them():
    coupon = make_coupon("SWEEP", init_count=3)
    start = timezone.now()
    for ttl in (1, 2, 100):
        reservation_service.hold_coupon(code="sweep", ttl_seconds=ttl, now=start)
    assert reservation_service.sweep_expired_holds(now=start + timedelta(seconds=2)) == 2
    coupon.refresh_from_db()
    assert (coupon.remaining_count, coupon.held_count) == (2, 1)
    statuses = sorted(Reservation.objects.values_list("status", flat=True))
    assert statuses == ["expired", "expired", "held"]
    assert broken_invariants() == []


@pytest.mark.parametrize("rounds", [range(8)])
def test_confirm_racing_release_on_one_hold_has_one_winner(rounds):
    coupon = make_coupon("RACE", init_count=len(rounds))
    for _ in rounds:
        held = reservation_service.hold_coupon(code="race")
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def run(action, held_id=held.id, outcomes=outcomes, barrier=barrier):
            barrier.wait()
            try:
                action(held_id)
                outcomes.append("won")
            except (AlreadyConfirmed, ReservationReleased) as exc:
                outcomes.append(exc.code)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=run, args=(reservation_service.confirm_reservation,)),
            threading.Thread(target=run, args=(reservation_service.release_reservation,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes)[-1] == "won" and outcomes.count("won") == 1, outcomes
    coupon.refresh_from_db()
    assert coupon.held_count == 0
    assert broken_invariants() == []
