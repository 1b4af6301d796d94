"""Reports: what a coupon's (or a campaign's codes') redemptions and holds came to over a
range of time, in totals and per day or hour of a time zone. The API, the admin's charts
and their CSV read them from here."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.db import DataError, connection, transaction
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from core.workers import in_worker
from coupons.models import Campaign, Coupon, Redemption, Reservation, ReservationStatus

Interval = Literal["day", "hour"]
INTERVALS: tuple[Interval, ...] = ("day", "hour")
DEFAULT_DAYS = 30
MAX_DAYS = 366
# Names whose meaning depends on the machine (or that mean nothing): not zones to report in.
_NOT_ZONES = frozenset({"localtime", "Factory"})
_LAST_INSTANT = timedelta(microseconds=1)  # the databases' (and Python's) finest step

_COUPONS = Coupon._meta.db_table
_CAMPAIGNS = Campaign._meta.db_table
_REDEMPTIONS = Redemption._meta.db_table
_RESERVATIONS = Reservation._meta.db_table


@dataclass(frozen=True, slots=True)
class Totals:
    redemptions: int
    reverted: int
    live: int
    discount_total: int
    order_total: int
    unique_customers: int
    holds_confirmed: int
    holds_released: int
    holds_expired: int


@dataclass(frozen=True, slots=True)
class Bucket:
    """One day (or hour) of the zone: `start` is its first instant, in the zone."""

    start: datetime
    redemptions: int
    reverted: int
    discount_amount: int
    order_amount: int


@dataclass(frozen=True, slots=True)
class Report:
    start: datetime
    end: datetime
    interval: Interval
    tz: str
    totals: Totals
    series: list[Bucket]


@cache
def zone_names() -> frozenset[str]:
    """The zones a report may be in: the IANA names this machine's tz database has."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def report_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (exactly as the tz database spells it), or a 400 naming `tz`."""
    if name not in zone_names():
        raise ValidationFailed({"tz": ["Must be an IANA time zone name, like Europe/Berlin."]})
    return ZoneInfo(name)


def report_range(
    start: datetime | None, end: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end) with the defaults filled in (end: now; start: 30 days before end), or a
    400 naming `from` when it is not before `to` or more than 366 days before it."""
    end = end or now
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ValidationFailed({"from": ["Must be before to."]})
    if end - start > timedelta(days=MAX_DAYS):
        raise ValidationFailed({"from": [f"Must be at most {MAX_DAYS} days before to."]})
    return start, end


def interval_starts(
    start: datetime, end: datetime, *, interval: Interval, zone: ZoneInfo
) -> list[datetime]:
    """The first instant of each day (hour) of `zone` from the one holding `start` to the one
    holding the last instant before `end`, in `zone` (a day may be 23 or 25 hours long)."""
    last = end - _LAST_INSTANT
    if interval == "hour":
        # An hour of the zone keeps its offset (astimezone sets `fold` in a repeated hour),
        # and hours follow each other by 3,600 s whatever the calendar does (counted in
        # UTC: Python adds to an aware time on its wall clock).
        local = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        first = local.astimezone(UTC)
        count = int((last - first) // timedelta(hours=1)) + 1
        return [(first + timedelta(hours=k)).astimezone(zone) for k in range(count)]
    day, last_day = start.astimezone(zone).date(), last.astimezone(zone).date()
    # A midnight skipped by a clock change is read with the offset before it: the instant
    # the day begins (zoneinfo's fold=0, as PostgreSQL reads it).
    return [
        datetime.combine(day + timedelta(days=k), time(), tzinfo=zone)
        .astimezone(UTC)
        .astimezone(zone)
        for k in range((last_day - day).days + 1)
    ]


# Which rows a report counts: a coupon's, or those of all a campaign's codes.
@dataclass(frozen=True, slots=True)
class _Scope:
    table: str
    owner_id: uuid.UUID
    coupons_sql: str

    def params(self) -> dict[str, Any]:
        return {"owner": Coupon._meta.pk.get_db_prep_value(self.owner_id, connection)}


def _coupon_scope(coupon_id: uuid.UUID) -> _Scope:
    return _Scope(_COUPONS, coupon_id, "%(owner)s")


def _campaign_scope(campaign_id: uuid.UUID) -> _Scope:
    return _Scope(
        _CAMPAIGNS,
        campaign_id,
        f"SELECT id FROM {_COUPONS} WHERE campaign_id = %(owner)s",  # noqa: S608
    )


def _totals_sql(scope: _Scope) -> str:
    """One statement, on PostgreSQL and SQLite: no row when the coupon (campaign) does not
    exist. Served by redemption_report and reservation_report (migration 0012)."""
    confirmed, released, expired, held = (
        f"'{s.value}'"
        for s in (
            ReservationStatus.CONFIRMED,
            ReservationStatus.RELEASED,
            ReservationStatus.EXPIRED,
            ReservationStatus.HELD,
        )
    )
    return f"""
        SELECT made.redemptions, made.reverted, made.discount_total, made.order_total,
               made.customers, holds.confirmed, holds.released, holds.expired
          FROM (SELECT 1 AS found FROM {scope.table} WHERE id = %(owner)s) AS owner,
               (SELECT count(*) AS redemptions, count(reverted_at) AS reverted,
                       coalesce(sum(CASE WHEN reverted_at IS NULL THEN discount_amount END), 0)
                           AS discount_total,
                       coalesce(sum(CASE WHEN reverted_at IS NULL THEN order_amount END), 0)
                           AS order_total,
                       count(DISTINCT CASE WHEN reverted_at IS NULL THEN customer_id END)
                           AS customers
                  FROM {_REDEMPTIONS}
                 WHERE coupon_id IN ({scope.coupons_sql})
                   AND redeemed_at >= %(start)s AND redeemed_at < %(end)s) AS made,
               (SELECT count(CASE WHEN status = {confirmed} THEN 1 END) AS confirmed,
                       count(CASE WHEN status = {released} THEN 1 END) AS released,
                       count(CASE WHEN status = {expired}
                                    OR (status = {held} AND expires_at <= %(now)s)
                                  THEN 1 END) AS expired
                  FROM {_RESERVATIONS}
                 WHERE coupon_id IN ({scope.coupons_sql})
                   AND created_at >= %(start)s AND created_at < %(end)s) AS holds
    """  # noqa: S608 - the table names are ours; values are parameters


# The series on PostgreSQL, in its own time-zone arithmetic: days are the zone's calendar
# days (local midnights, each read back to an instant); hours are date_trunc's in the zone,
# which keeps the offset of the instant (so a repeated hour is two hours). Empty intervals
# come from generate_series. Served by redemption_report (migration 0012).
_LIVE_SUMS = """
    count(*) AS redemptions, count(reverted_at) AS reverted,
    coalesce(sum(discount_amount) FILTER (WHERE reverted_at IS NULL), 0) AS discount_amount,
    coalesce(sum(order_amount) FILTER (WHERE reverted_at IS NULL), 0) AS order_amount
"""
_SERIES_COLUMNS = """
    coalesce(made.redemptions, 0), coalesce(made.reverted, 0),
    coalesce(made.discount_amount, 0), coalesce(made.order_amount, 0)
"""


def _series_sql(scope: _Scope, interval: Interval) -> str:
    rows = f"""
        FROM {_REDEMPTIONS}
       WHERE coupon_id IN ({scope.coupons_sql})
         AND redeemed_at >= %(start)s AND redeemed_at < %(end)s
    """
    if interval == "day":
        return f"""
            WITH days AS (
                SELECT generate_series(date_trunc('day', %(start)s AT TIME ZONE %(tz)s),
                                       date_trunc('day', %(last)s AT TIME ZONE %(tz)s),
                                       interval '1 day') AS local_start
            ), made AS (
                SELECT date_trunc('day', redeemed_at AT TIME ZONE %(tz)s) AS local_start,
                       {_LIVE_SUMS}
                {rows}
                GROUP BY 1
            )
            SELECT days.local_start AT TIME ZONE %(tz)s, {_SERIES_COLUMNS}
              FROM days LEFT JOIN made USING (local_start)
             ORDER BY days.local_start
        """  # noqa: S608
    return f"""
        WITH hours AS (
            SELECT generate_series(date_trunc('hour', %(start)s, %(tz)s), %(last)s,
                                   interval '1 hour') AS start
        ), made AS (
            SELECT date_trunc('hour', redeemed_at, %(tz)s) AS start, {_LIVE_SUMS}
            {rows}
            GROUP BY 1
        )
        SELECT hours.start, {_SERIES_COLUMNS}
          FROM hours LEFT JOIN made USING (start)
         ORDER BY hours.start
    """  # noqa: S608


def series_in_python(
    rows: Iterable[tuple[datetime, datetime | None, int | None, int | None]],
    *,
    start: datetime,
    end: datetime,
    interval: Interval,
    zone: ZoneInfo,
) -> list[Bucket]:
    """The series from the redemptions (redeemed_at, reverted_at, discount, order) in
    [start, end), counted in Python with zoneinfo: SQLite has no time zones. The same
    answer as the PostgreSQL statement (tests/reports pin the two together)."""
    starts = interval_starts(start, end, interval=interval, zone=zone)
    sums = [[0, 0, 0, 0] for _ in starts]
    first = starts[0].astimezone(UTC)
    by_day = {moment.date(): index for index, moment in enumerate(starts)}
    for redeemed_at, reverted_at, discount, order in rows:
        if interval == "hour":
            index = int((redeemed_at - first) // timedelta(hours=1))
        else:
            index = by_day[redeemed_at.astimezone(zone).date()]
        bucket = sums[index]
        bucket[0] += 1
        if reverted_at is not None:
            bucket[1] += 1
        else:
            bucket[2] += discount or 0
            bucket[3] += order or 0
    return [Bucket(moment, *values) for moment, values in zip(starts, sums, strict=True)]


def _report(
    scope: _Scope,
    *,
    start: datetime | None,
    end: datetime | None,
    interval: Interval,
    tz: str,
    now: datetime | None,
) -> Report:
    if interval not in INTERVALS:
        raise ValidationFailed({"interval": ["Must be day or hour."]})
    zone = report_zone(tz)
    now = now or timezone.now()
    start, end = report_range(start, end, now=now)
    adapt = connection.ops.adapt_datetimefield_value
    params = {**scope.params(), "start": adapt(start), "end": adapt(end), "now": adapt(now)}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # JIT compiling took 50 to 300 ms of a report over a million rows, more than it
            # saved (bench/report_seed.py); LOCAL: this transaction only, pooler-safe.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        with connection.cursor() as cursor:
            cursor.execute(_totals_sql(scope), params)
            row = cursor.fetchone()
        if row is None:
            what = "coupon" if scope.table == _COUPONS else "campaign"
            raise NotFound(f"No {what} has the id {scope.owner_id}.")
        series = _series(scope, params, start=start, end=end, interval=interval, zone=zone)
    made, reverted, discount, order, customers, confirmed, released, expired = map(int, row)
    totals = Totals(
        made, reverted, made - reverted, discount, order, customers, confirmed, released, expired
    )
    return Report(start, end, interval, tz, totals, series)


def _series(
    scope: _Scope,
    params: dict[str, Any],
    *,
    start: datetime,
    end: datetime,
    interval: Interval,
    zone: ZoneInfo,
) -> list[Bucket]:
    if connection.vendor != "postgresql":
        redemptions = Redemption.objects.filter(redeemed_at__gte=start, redeemed_at__lt=end)
        if scope.table == _COUPONS:
            redemptions = redemptions.filter(coupon_id=scope.owner_id)
        else:
            redemptions = redemptions.filter(coupon__campaign_id=scope.owner_id)
        rows = redemptions.values_list(
            "redeemed_at", "reverted_at", "discount_amount", "order_amount"
        ).iterator(chunk_size=5000)
        return series_in_python(rows, start=start, end=end, interval=interval, zone=zone)
    try:
        with connection.cursor() as cursor:
            last = end - _LAST_INSTANT
            cursor.execute(_series_sql(scope, interval), {**params, "tz": zone.key, "last": last})
            found: Sequence[tuple[Any, ...]] = cursor.fetchall()
    except DataError as exc:  # a zone Python knows and this PostgreSQL does not
        raise ValidationFailed({"tz": [f"This database does not know {zone.key}."]}) from exc
    return [Bucket(moment.astimezone(zone), *map(int, sums)) for moment, *sums in found]


def coupon_report(
    coupon_id: uuid.UUID,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    interval: Interval = "day",
    tz: str = "UTC",
    now: datetime | None = None,
) -> Report:
    """A coupon's redemptions made in [start, end) and holds taken in it: totals, and a
    series per day (hour) of `tz`, empty ones included."""
    return _report(
        _coupon_scope(coupon_id), start=start, end=end, interval=interval, tz=tz, now=now
    )


def campaign_report(
    campaign_id: uuid.UUID,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    interval: Interval = "day",
    tz: str = "UTC",
    now: datetime | None = None,
) -> Report:
    """`coupon_report` over all of a campaign's codes together."""
    return _report(
        _campaign_scope(campaign_id), start=start, end=end, interval=interval, tz=tz, now=now
    )


acoupon_report = in_worker(coupon_report)
acampaign_report = in_worker(campaign_report)
