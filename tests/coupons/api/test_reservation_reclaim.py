"""Expired holds that nobody swept yet never keep a use from anyone: a redemption or hold
reclaims them in the same transaction as the use it takes (both commit, or neither), and
a validation counts them as free. The clock is controlled (`now=`), never slept on."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from core.errors import CampaignExhausted, CouponExhausted
from coupons.models import Campaign, Coupon, Reservation, ReservationStatus
from coupons.services import campaigns as campaign_service
from coupons.services import redemptions as redemption_service
from coupons.services import reservations as reservation_service
from coupons.services import validations as validation_service
from coupons.services.spending import reclaiming_expired_holds, take_use
from tests.campaigns import ORDER, broken_campaign_counters, campaign_held_whole
from tests.factories import broken_invariants, make_coupon

pytestmark = pytest.mark.django_db(transaction=True)


def held_statuses() -> list[str]:
    return sorted(Reservation.objects.values_list("status", flat=True))


def test_a_retry_refused_again_gives_no_expired_hold_back():
    campaign = campaign_service.create_campaign(name="C", max_redemptions=5)
    make_coupon("KEPT-A", init_count=5, campaign_id=campaign.id)
    make_coupon("KEPT-B", init_count=1, campaign_id=campaign.id)
    start = timezone.now()
    reservation_service.hold_coupon(code="kept-a", ttl_seconds=10, now=start)
    redemption_service.redeem_coupon(code="kept-b", now=start)
    later = start + timedelta(seconds=10)
    # KEPT-B's own use is gone: returning the campaign's expired hold cannot help, so the
    # reclaim that came with the retry is undone with it.
    with pytest.raises(CouponExhausted):
        redemption_service.redeem_coupon(code="kept-b", now=later)
    assert held_statuses() == ["held"]
    campaign.refresh_from_db()
    assert (campaign.held_count, campaign.redemption_count) == (1, 1)
    assert Coupon.objects.get(code="KEPT-A").held_count == 1
    assert broken_invariants() == [] and broken_campaign_counters() == []


def test_a_failure_after_the_reclaim_undoes_the_reclaim():
    coupon = make_coupon("HALF", init_count=1)
    start = timezone.now()
    reservation_service.hold_coupon(code="half", ttl_seconds=5, now=start)
    later = start + timedelta(seconds=5)
    calls = []

    def attempt() -> None:
        calls.append(1)
        take_use(key="HALF", code="half", customer_id=None, order=None, now=later, hold=False)
        # Spent, in the reclaim's transaction; then anything at all fails.
        raise RuntimeError("after the use was taken")

    # The first attempt is refused (the expired hold has the use); the second, after the
    # reclaim, takes the use and fails.
    with pytest.raises(RuntimeError):
        reclaiming_expired_holds("HALF", later, attempt)
    assert len(calls) == 2
    assert held_statuses() == ["held"]
    coupon.refresh_from_db()
    assert (coupon.remaining_count, coupon.held_count) == (0, 1)
    assert broken_invariants() == []


def test_a_refusal_retries_on_what_is_free_when_another_request_reclaimed_first():
    # Issue 24, finding 2, one step at a time: the first attempt is refused for want of
    # the use an expired hold took; another request returns that hold (and commits)
    # before this one looks. Nothing is held any more, yet the use is free: the retry
    # must take it.
    coupon = make_coupon("FIRST", init_count=1)
    start = timezone.now()
    reservation_service.hold_coupon(code="first", ttl_seconds=5, now=start)
    later = start + timedelta(seconds=5)
    answers: list[str] = []

    def attempt() -> str:
        with transaction.atomic():
            take = take_use(key="FIRST", code="first", customer_id=None, order=None,
                            now=later, hold=False)  # fmt: skip
        answers.append("taken")
        return take.code

    def refused_then_reclaimed_by_another() -> str:
        if answers:
            return attempt()
        answers.append("refused")
        with pytest.raises(CouponExhausted):
            attempt()
        assert reservation_service.sweep_expired_holds(now=later) == 1
        raise CouponExhausted()

    assert reclaiming_expired_holds("FIRST", later, refused_then_reclaimed_by_another) == "FIRST"
    assert answers == ["refused", "taken"]
    assert held_statuses() == ["expired"]
    # The use went to the retry (a bare take_use: no redemption row to count).
    coupon.refresh_from_db()
    assert (coupon.remaining_count, coupon.held_count) == (0, 0)


def test_a_reclaim_and_the_use_it_frees_commit_together():
    coupon = make_coupon("BOTH", init_count=1)
    start = timezone.now()
    reservation_service.hold_coupon(code="both", ttl_seconds=5, now=start)
    held = reservation_service.hold_coupon(code="both", now=start + timedelta(seconds=5))
    assert held.status == "held"
    assert held_statuses() == ["expired", "held"]
    coupon.refresh_from_db()
    assert (coupon.remaining_count, coupon.held_count) == (0, 1)
    assert broken_invariants() == []


def test_concurrent_reclaims_across_a_campaigns_codes_neither_deadlock_nor_oversell(
    on_postgres,
):
    if not on_postgres:
        pytest.skip("row locks need PostgreSQL")
    campaign = campaign_service.create_campaign(name="C", max_redemptions=4)
    codes = [f"RACE-{n}" for n in range(4)]
    for code in codes:
        make_coupon(code, init_count=2, campaign_id=campaign.id)
    start = timezone.now()
    for code in codes:
        reservation_service.hold_coupon(code=code, ttl_seconds=1, now=start)
    later = start + timedelta(seconds=1)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def redeem(code: str) -> None:
        barrier.wait()
        try:
            redemption_service.redeem_coupon(code=code, now=later)
            outcomes.append("redeemed")
        except (CampaignExhausted, CouponExhausted) as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # a deadlock would surface here
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    # Each thread's code is another's order: the reclaims lock coupons in id order.
    threads = [threading.Thread(target=redeem, args=(codes[n % 4],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["campaign_exhausted"] * 4 + ["redeemed"] * 4, outcomes
    assert Reservation.objects.filter(status=ReservationStatus.EXPIRED).count() == 4
    campaign = Campaign.objects.get(pk=campaign.id)
    assert (campaign.held_count, campaign.redemption_count) == (0, 4)
    assert broken_invariants() == [] and broken_campaign_counters() == []


def test_a_code_held_only_by_expired_holds_validates_and_nothing_is_returned():
    coupon = make_coupon("LOOK", init_count=1, per_customer_limit=1)
    start = timezone.now()
    reservation_service.hold_coupon(code="look", customer_id="a", ttl_seconds=10, now=start)
    before = validation_service.validate_code(code="look", customer_id="a", now=start)
    assert (before.valid, before.reason, before.remaining_count) == (False, "coupon_exhausted", 0)
    later = start + timedelta(seconds=10)
    after = validation_service.validate_code(code="look", customer_id="a", now=later)
    assert (after.valid, after.reason, after.remaining_count) == (True, None, 1)
    # A validation spends nothing, and returns nothing either: that is the next
    # redemption's (or the sweeper's) job.
    assert held_statuses() == ["held"]
    coupon.refresh_from_db()
    assert (coupon.remaining_count, coupon.held_count) == (0, 1)
    assert redemption_service.redeem_coupon(code="look", customer_id="a", now=later)


def test_a_customer_limit_met_only_by_expired_holds_validates():
    make_coupon("MINE", init_count=5, per_customer_limit=1)
    start = timezone.now()
    reservation_service.hold_coupon(code="mine", customer_id="a", ttl_seconds=10, now=start)
    refused = validation_service.validate_code(code="mine", customer_id="a", now=start)
    assert refused.reason == "customer_limit_reached"
    later = start + timedelta(seconds=10)
    assert validation_service.validate_code(code="mine", customer_id="a", now=later).valid


def test_a_campaign_spent_only_by_expired_holds_validates_with_its_discount():
    campaign, start = campaign_held_whole("SEEN")
    refused = validation_service.validate_code(
        code="seen-b", customer_id="x", order=ORDER, now=start
    )
    assert refused.reason == "campaign_exhausted"
    later = start + timedelta(seconds=30)
    valid = validation_service.validate_code(code="seen-b", customer_id="x", order=ORDER, now=later)
    assert (valid.valid, valid.discount_amount, valid.amount_after_discount) == (True, 500, 1500)
    # x's expired hold frees the campaign's capacity and budget for anyone.
    other = validation_service.validate_code(code="seen-b", customer_id="y", order=ORDER, now=later)
    assert other.valid
    campaign.refresh_from_db()
    assert (campaign.held_count, campaign.discount_total) == (1, 500)


def test_a_budget_spent_only_by_expired_holds_validates():
    campaign = campaign_service.create_campaign(
        name="C", discount={"amount_off": 500, "currency": "EUR"},
        budget={"amount": 500, "currency": "EUR"},
    )  # fmt: skip
    make_coupon("BUDGET-A", init_count=5, campaign_id=campaign.id)
    make_coupon("BUDGET-B", init_count=5, campaign_id=campaign.id)
    order = {"amount": 2000, "currency": "EUR"}
    start = timezone.now()
    reservation_service.hold_coupon(code="budget-a", order=order, ttl_seconds=30, now=start)
    assert (
        validation_service.validate_code(code="budget-b", order=order, now=start).reason
        == "budget_exhausted"
    )
    later = start + timedelta(seconds=30)
    assert validation_service.validate_code(code="budget-b", order=order, now=later).valid
