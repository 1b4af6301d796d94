"""The campaign page's charts in Debian's Chromium (headless, Playwright) against a live
server: the bars are drawn, one a day, and the CSV link downloads the same days. The
screenshot is kept as a test artefact (test-artifacts/), as docs/admin-campaign-report.png
shows it."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from coupons.services import campaigns as campaign_service
from tests.coupons.admin.test_browser import ARTIFACTS, browser, page, server  # noqa: F401
from tests.coupons.reports.ledger import redeem_at
from tests.factories import make_coupon

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_campaign_page_draws_a_bar_a_day_and_its_burn_down(page: Page, tmp_path: Path):  # noqa: F811
    campaign = campaign_service.create_campaign(
        name="Spring sale", discount={"amount_off": 500, "currency": "EUR"},
        budget={"amount": 20_000, "currency": "EUR"},
    )  # fmt: skip
    code = make_coupon("SPRING-1", init_count=1000, campaign_id=campaign.pk)
    now = timezone.now()
    for days_ago, count in [(27, 2), (20, 5), (13, 3), (6, 8), (2, 4), (0, 6)]:
        for n in range(count):
            when = now - timedelta(days=days_ago, minutes=n)
            redeem_at(code, when.isoformat(), order=4000, discount=500, customer=f"c{n}")
    # The counters as the redemptions above would have moved them.
    campaign.discount_total = 28 * 500
    campaign.save(update_fields=["discount_total"])

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/admin/coupons/campaign/{campaign.pk}/change/")

    expect(page.locator("svg.redemptions rect.bar")).to_have_count(30)
    expect(page.locator("svg.discount rect.bar")).to_have_count(30)
    expect(page.locator("svg.burn-down polyline")).to_be_visible()
    today = page.locator("svg.redemptions rect.bar").nth(29).bounding_box()
    assert today is not None and today["height"] > 10
    expect(page.locator("table.report-totals")).to_contain_text("28")
    activity = page.locator(".field-activity")
    activity.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    activity.screenshot(path=str(ARTIFACTS / "admin-campaign-report.png"))
    assert (ARTIFACTS / "admin-campaign-report.png").stat().st_size > 5_000

    with page.expect_download() as download_info:
        page.click("text=Export these days as CSV")
    saved = tmp_path / "days.csv"
    download_info.value.save_as(saved)
    days = list(csv.DictReader(saved.open()))
    assert len(days) == 30 and sum(int(d["redemptions"]) for d in days) == 28
