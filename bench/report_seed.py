"""The reports at a million redemptions: seed one campaign with 1,000,000 redemptions (and
50,000 holds) spread over the last 90 days in generate_series INSERTs, then time the
report service (the API's and the admin's one call: its two statements) for a 30-day
daily and a 24-hour hourly report, best of 7, and show the plans. A benchmark, not a test.

    REPORT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/coupons_reports_bench \\
        .venv/bin/python bench/report_seed.py [--reseed]

The database is created and migrated when missing; it is seeded once (--reseed drops the
campaign's rows and seeds again).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get(
    "REPORT_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/coupons_reports_bench"
)
REDEMPTIONS, HOLDS, CODES, DAYS = 1_000_000, 50_000, 1_000, 90
CAMPAIGN = "report-bench"

os.environ["DATABASE_URL"] = URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "600000")  # the seed's INSERTs
sys.path.insert(0, str(ROOT))


def ensure_database() -> None:
    name = URL.rsplit("/", 1)[1]
    admin = URL.rsplit("/", 1)[0] + "/postgres"
    exists = subprocess.run(
        ["psql", admin, "-Atc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not exists:
        subprocess.run(["psql", admin, "-c", f'CREATE DATABASE "{name}"'], check=True)
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], check=True
    )


SEED = """
INSERT INTO coupons_coupon (id, code, init_count, remaining_count, held_count, is_active,
                            created_at, updated_at, metadata, campaign_id)
SELECT gen_random_uuid(), 'RB-' || lpad(n::text, 6, '0'), 1000000, 1000000, 0, true,
       now(), now(), '{}', %(campaign)s
  FROM generate_series(1, %(codes)s) AS n;

-- Redemptions spread evenly over the last DAYS days, every tenth reverted an hour later,
-- 200,000 customers, orders of 10.00 to 209.99 EUR, a tenth of each off.
INSERT INTO coupons_redemption (id, coupon_id, customer_id, order_id, remaining_after,
                                redeemed_at, reverted_at, order_amount, currency,
                                discount_amount, metadata)
SELECT gen_random_uuid(), codes.ids[1 + n %% %(codes)s], 'c-' || (n %% 200000), 'o-' || n,
       0, at, CASE WHEN n %% 10 = 0 THEN at + interval '1 hour' END,
       amount, 'EUR', amount / 10, '{}'
  FROM generate_series(1, %(redemptions)s) AS n,
       LATERAL (SELECT now() - (%(days)s * interval '1 day') * (n::float8 / %(redemptions)s)
                       AS at, 1000 + (n::bigint * 7919) %% 20000 AS amount) AS made,
       (SELECT array_agg(id ORDER BY code) AS ids FROM coupons_coupon
         WHERE campaign_id = %(campaign)s) AS codes;

INSERT INTO coupons_reservation (id, coupon_id, customer_id, order_amount, currency,
                                 discount_amount, status, expires_at, created_at,
                                 returned_at, metadata)
SELECT gen_random_uuid(), codes.ids[1 + n %% %(codes)s], 'h-' || n, 5000, 'EUR', 500,
       s.status, at + interval '15 minutes', at,
       CASE WHEN s.status IN ('released', 'expired') THEN at + interval '5 minutes' END, '{}'
  FROM generate_series(1, %(holds)s) AS n,
       LATERAL (SELECT now() - (%(days)s * interval '1 day') * (n::float8 / %(holds)s) AS at,
                       (ARRAY['released', 'expired', 'held'])[1 + n %% 3] AS status) AS s,
       (SELECT array_agg(id ORDER BY code) AS ids FROM coupons_coupon
         WHERE campaign_id = %(campaign)s) AS codes;
"""


def main() -> None:
    ensure_database()
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from coupons.models import Campaign, Coupon, Redemption, Reservation
    from coupons.services import reports

    campaign = Campaign.objects.filter(name=CAMPAIGN).first()
    if campaign is not None and "--reseed" in sys.argv:
        codes = Coupon.objects.filter(campaign=campaign)
        Reservation.objects.filter(coupon__in=codes).delete()
        Redemption.objects.filter(coupon__in=codes).delete()
        codes.delete()
        campaign.delete()
        campaign = None
    if campaign is None:
        started = time.monotonic()
        with transaction.atomic():
            campaign = Campaign.objects.create(name=CAMPAIGN)
            with connection.cursor() as cursor:
                cursor.execute(
                    SEED,
                    {"campaign": campaign.pk, "codes": CODES, "redemptions": REDEMPTIONS,
                     "holds": HOLDS, "days": DAYS},
                )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE coupons_redemption")
            cursor.execute("VACUUM ANALYZE coupons_reservation")
            cursor.execute("VACUUM ANALYZE coupons_coupon")
        print(f"seeded {REDEMPTIONS:,} redemptions in {time.monotonic() - started:.0f} s")
    one_code = Coupon.objects.filter(campaign=campaign).order_by("code").first()
    assert one_code is not None

    now = timezone.now()
    cases = [
        ("campaign, 30 days, daily, Europe/Berlin",
         lambda: reports.campaign_report(campaign.pk, start=now - timedelta(days=30), end=now,
                                         interval="day", tz="Europe/Berlin")),
        ("campaign, 24 hours, hourly, Europe/Berlin",
         lambda: reports.campaign_report(campaign.pk, start=now - timedelta(hours=24), end=now,
                                         interval="hour", tz="Europe/Berlin")),
        ("campaign, 90 days, daily, UTC (all 1M)",
         lambda: reports.campaign_report(campaign.pk, start=now - timedelta(days=91), end=now)),
        ("one code, 30 days, daily",
         lambda: reports.coupon_report(one_code.pk, start=now - timedelta(days=30), end=now)),
    ]  # fmt: skip
    print(f"{'report':45} {'best ms':>8} {'median ms':>10} {'redemptions':>12}")
    for name, run in cases:
        timings = []
        report = None
        for _ in range(7):
            started = time.perf_counter()
            report = run()
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        assert report is not None
        print(f"{name:45} {timings[0]:8.0f} {timings[3]:10.0f} {report.totals.redemptions:12,}")
    if "--explain" in sys.argv:
        with connection.cursor() as cursor:
            scope = reports._campaign_scope(campaign.pk)
            params = {**scope.params(), "start": now - timedelta(days=30), "end": now,
                      "now": now, "tz": "Europe/Berlin",
                      "last": now - timedelta(microseconds=1)}  # fmt: skip
            for sql in (reports._totals_sql(scope), reports._series_sql(scope, "day")):
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print("\n".join(row[0] for row in cursor.fetchall()), end="\n\n")


if __name__ == "__main__":
    main()
