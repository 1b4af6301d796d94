"""A ledger built by hand for the report tests: redemptions and holds at chosen instants
around the two clock changes of Europe/Berlin in 2026 (29 March: a 23-hour day; 25 October:
a 25-hour day), on two codes of a campaign and on one code outside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coupons.models import Campaign, Coupon, Redemption, Reservation, ReservationStatus
from coupons.services import campaigns as campaign_service
from tests.factories import make_coupon


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# The range of the October tests: 24 to 27 October in Berlin, [from, to).
OCT_FROM = "2026-10-24T00:00:00+02:00"
OCT_TO = "2026-10-27T00:00:00+01:00"
# "Now" for the holds: after every hold was taken.
NOW = utc("2026-11-01T00:00:00Z")


@dataclass
class Ledger:
    campaign: Campaign
    code_a: Coupon
    code_b: Coupon
    outsider: Coupon


def redeem_at(
    coupon: Coupon,
    when: str,
    *,
    order: int | None = None,
    discount: int | None = None,
    customer: str | None = None,
    reverted: str | None = None,
) -> Redemption:
    return Redemption.objects.create(
        coupon=coupon, customer_id=customer, remaining_after=0, redeemed_at=utc(when),
        reverted_at=None if reverted is None else utc(reverted), order_amount=order,
        currency=None if order is None else "EUR", discount_amount=discount,
    )  # fmt: skip


def hold_at(coupon: Coupon, when: str, status: ReservationStatus, *, ttl_minutes: int = 15) -> None:
    created = utc(when)
    redemption = None
    if status == ReservationStatus.CONFIRMED:
        redemption = redeem_at(coupon, "2026-01-01T00:00:00Z")  # outside every range
    returned = created + timedelta(minutes=1)
    Reservation.objects.create(
        coupon=coupon, status=status, created_at=created,
        expires_at=created + timedelta(minutes=ttl_minutes), redemption=redemption,
        returned_at=returned if status in (ReservationStatus.RELEASED,
                                           ReservationStatus.EXPIRED) else None,
    )  # fmt: skip


def build_ledger() -> Ledger:
    campaign = campaign_service.create_campaign(
        name="Autumn", discount={"amount_off": 500, "currency": "EUR"}
    )
    a = make_coupon("AUTUMN-A", init_count=100, campaign_id=campaign.pk)
    b = make_coupon("AUTUMN-B", init_count=100, campaign_id=campaign.pk)
    outsider = make_coupon("ALONE", init_count=100)

    # Before `from` by one second (Berlin: 23 October, 23:59:59), and exactly at `from`.
    redeem_at(a, "2026-10-23T23:59:59+02:00", order=9000, discount=500, customer="early")
    redeem_at(a, "2026-10-24T00:00:00+02:00", order=2000, discount=500, customer="c1")
    # 25 October in Berlin, 24 October in UTC.
    redeem_at(b, "2026-10-24T23:30:00Z", order=3000, discount=500, customer="c2")
    # The first and the second 02:30 of 25 October (the clocks go back at 03:00 CEST).
    redeem_at(a, "2026-10-25T02:30:00+02:00", order=4000, discount=500, customer="c1")
    redeem_at(
        b, "2026-10-25T02:30:00+01:00", order=5000, discount=500, customer="c3",
        reverted="2026-11-02T00:00:00Z",
    )  # fmt: skip
    # The last second of the 25-hour day, without an order or a customer.
    redeem_at(a, "2026-10-25T23:59:59+01:00")
    # 26 October: reverted the same day.
    redeem_at(
        b, "2026-10-26T00:00:00+01:00", order=6000, discount=500, customer="c4",
        reverted="2026-10-26T00:05:00+01:00",
    )  # fmt: skip
    redeem_at(b, "2026-10-26T12:00:00+01:00", order=7000, discount=500, customer="c2")
    # Exactly at `to`: not counted.
    redeem_at(a, "2026-10-27T00:00:00+01:00", order=8000, discount=500, customer="late")
    # Another coupon's, in the range: not the campaign's.
    redeem_at(outsider, "2026-10-25T12:00:00+01:00", order=1000, customer="c9")

    # 29 March: the clocks go forward at 02:00 CET, a 23-hour day.
    redeem_at(a, "2026-03-29T01:30:00+01:00", order=1000, discount=500, customer="s1")
    redeem_at(a, "2026-03-29T03:30:00+02:00", order=1500, discount=500, customer="s2")

    # Holds taken in the October range, by their status now (NOW).
    hold_at(a, "2026-10-24T10:00:00+02:00", ReservationStatus.CONFIRMED)
    hold_at(b, "2026-10-25T10:00:00+01:00", ReservationStatus.CONFIRMED)
    hold_at(a, "2026-10-25T11:00:00+01:00", ReservationStatus.RELEASED)
    hold_at(a, "2026-10-25T12:00:00+01:00", ReservationStatus.EXPIRED)
    # Held, past its expiry and not yet swept: expired all the same.
    hold_at(b, "2026-10-26T12:00:00+01:00", ReservationStatus.HELD)
    # Held and still live at NOW: none of the three.
    hold_at(b, "2026-10-26T23:00:00+01:00", ReservationStatus.HELD, ttl_minutes=60 * 24 * 30)
    # Outside the range, and on the other coupon.
    hold_at(a, "2026-10-27T00:00:00+01:00", ReservationStatus.RELEASED)
    hold_at(outsider, "2026-10-25T10:00:00+01:00", ReservationStatus.RELEASED)
    return Ledger(campaign, a, b, outsider)
