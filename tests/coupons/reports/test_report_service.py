"""coupons.services.reports directly: the PostgreSQL statement and the Python count that
SQLite uses give the same series, and the range rules."""

from __future__ import annotations

import itertools
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import ValidationFailed
from coupons.models import Redemption
from coupons.services import reports
from tests.coupons.reports.ledger import NOW, OCT_FROM, OCT_TO, build_ledger, utc

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("tz", ["Europe/Berlin", "UTC", "Asia/Kolkata", "America/Santiago",
                                "Australia/Lord_Howe", "Pacific/Chatham"])  # fmt: skip
@pytest.mark.parametrize("interval", ["day", "hour"])
@pytest.mark.parametrize(
    ("start", "end"),
    [(OCT_FROM, OCT_TO), ("2026-03-28T07:13:00Z", "2026-03-31T00:00:00Z")],
)
def test_the_database_series_is_the_python_series(tz, interval, start, end):
    ledger = build_ledger()
    zone = ZoneInfo(tz)
    begin, finish = utc(start), utc(end)

    report = reports.campaign_report(
        ledger.campaign.pk, start=begin, end=finish, interval=interval, tz=tz, now=NOW
    )
    rows = Redemption.objects.filter(
        coupon__campaign=ledger.campaign, redeemed_at__gte=begin, redeemed_at__lt=finish
    ).values_list("redeemed_at", "reverted_at", "discount_amount", "order_amount")
    expected = reports.series_in_python(rows, start=begin, end=finish, interval=interval, zone=zone)

    assert report.series == expected
    assert [b.start.utcoffset() for b in report.series] == [
        b.start.astimezone(zone).utcoffset() for b in report.series
    ]
    assert sum(b.redemptions for b in report.series) == report.totals.redemptions


def test_a_berlin_day_series_crossing_both_clock_changes_has_one_day_each():
    starts = reports.interval_starts(
        utc("2026-03-28T00:00:00+01:00"), utc("2026-10-27T00:00:00+01:00"),
        interval="day", zone=ZoneInfo("Europe/Berlin"),
    )  # fmt: skip

    assert len(starts) == 213
    # Subtracted in UTC: Python subtracts two times of one zone on the wall clock.
    instants = [s.astimezone(UTC) for s in starts]
    lengths = {b - a for a, b in itertools.pairwise(instants)}
    assert lengths == {timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)}


def test_a_midnight_the_clocks_skip_starts_its_day_at_the_change():
    # Santiago: clocks go from 00:00 to 01:00 on 6 September 2026.
    starts = reports.interval_starts(
        utc("2026-09-06T12:00:00Z"), utc("2026-09-06T13:00:00Z"),
        interval="day", zone=ZoneInfo("America/Santiago"),
    )  # fmt: skip

    assert [s.isoformat() for s in starts] == ["2026-09-06T01:00:00-03:00"]


@pytest.mark.parametrize("tz", ["", "Europe/Atlantis", "Factory", "EUROPE/BERLIN"])
def test_only_iana_zone_names_are_taken(tz):
    with pytest.raises(ValidationFailed) as caught:
        reports.report_zone(tz)
    assert list(caught.value.errors) == ["tz"]


def test_the_default_range_is_the_30_days_before_now():
    assert reports.report_range(None, None, now=NOW) == (NOW - timedelta(days=30), NOW)


def test_the_report_is_two_statements():
    ledger = build_ledger()
    with CaptureQueriesContext(connection) as run:
        reports.campaign_report(ledger.campaign.pk, tz="Europe/Berlin", now=NOW)

    statements = [
        q["sql"] for q in run.captured_queries if q["sql"].lstrip()[:4] in ("SELE", "WITH")
    ]
    assert len(statements) == 2
