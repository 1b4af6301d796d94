"""The admin in a real browser: Debian's Chromium, headless, driven by Playwright against a
live server. A campaign without the API: log in, create a coupon, search it, generate a
batch and download its CSV, deactivate with the action, revert a redemption. The coupon
list's screenshot is kept as a test artefact (test-artifacts/)."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from access.services import api_keys
from coupons.models import Coupon, Redemption
from coupons.services import redemptions
from tests.servers import ROOT, Server, running_servers

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))

if not shutil.which(CHROMIUM):
    reason = (
        f"browser tests skipped: no Chromium at {CHROMIUM} "
        "(apt-get install -y chromium, or set CHROMIUM=/path/to/chromium)"
    )
    if os.environ.get("COUPONS_REQUIRE_BROWSER") == "1":
        raise RuntimeError(reason)
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Plain HTTP on loopback: the session cookie must not be Secure-only here.
    with running_servers(1, tmp_path_factory.mktemp("admin"), DJANGO_SECURE_COOKIES="0") as s:
        yield s[0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls
    # (and pytest-django's flush after each test) are plain sync code all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    staff = User.objects.create_superuser("staff", "staff@example.com")
    # Hashed as the server (production settings) checks it, not with the tests' fast MD5.
    staff.password = make_password("a-long-test-password", hasher="pbkdf2_sha256")
    staff.save()
    context = browser.new_context(base_url=server.url, accept_downloads=True)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    yield page
    context.close()


def run_action(page: Page, row_text: str, action: str) -> None:
    page.locator("tr", has_text=row_text).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def test_a_campaign_runs_from_the_admin(page: Page, tmp_path: Path) -> None:
    # Create a coupon.
    page.goto("/admin/coupons/coupon/add/")
    page.fill("#id_code", "SPRING-26")
    page.fill("#id_init_count", "10")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("SPRING-26")
    assert Coupon.objects.get(code="SPRING-26").remaining_count == 10

    # Search it (by a prefix, in another letter case).
    page.fill("#searchbar", "spring")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list")).to_contain_text("SPRING-26")

    # Generate a batch and download its CSV.
    page.click("text=Generate a batch")
    page.fill("#id_count", "12")
    page.fill("#id_prefix", "FAIR-")
    page.fill("#id_length", "8")
    page.fill("#id_init_count", "1")
    with page.expect_download() as download_info:
        page.click("input[type=submit]")
    saved = tmp_path / "codes.csv"
    download_info.value.save_as(saved)
    codes = [row[0] for row in csv.reader(saved.open())][1:]
    assert len(codes) == 12 and all(code.startswith("FAIR-") for code in codes)
    assert Coupon.objects.filter(code__in=codes).count() == 12

    # Deactivate with the action.
    page.goto("/admin/coupons/coupon/?q=spring")
    run_action(page, "SPRING-26", "deactivate")
    expect(page.locator(".messagelist")).to_contain_text("Deactivated 1")
    assert Coupon.objects.get(code="SPRING-26").is_active is False

    # Revert a redemption.
    redemption = redemptions.redeem_coupon(code=codes[0], customer_id="shopper-1")
    page.goto("/admin/coupons/redemption/")
    run_action(page, "shopper-1", "revert")
    expect(page.locator(".messagelist")).to_contain_text("Reverted 1")
    assert Redemption.objects.get(pk=redemption.id).reverted_at is not None
    assert Coupon.objects.get(code=codes[0]).remaining_count == 1

    # The coupon list, as staff see it.
    page.goto("/admin/coupons/coupon/")
    expect(page.locator("#result_list")).to_contain_text("FAIR-")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.screenshot(path=str(ARTIFACTS / "admin-coupon-list.png"), full_page=False)
    assert (ARTIFACTS / "admin-coupon-list.png").stat().st_size > 10_000


def test_api_keys_are_created_once_and_revoked(page: Page) -> None:
    page.goto("/admin/access/apikey/add/")
    page.fill("#id_name", "checkout-eu")
    page.select_option("#id_scope", "redeem")
    page.click("input[name=_save]")
    message = page.locator(".messagelist").inner_text()
    plain = next(word for word in message.split() if word.startswith("cpn_"))
    assert api_keys.key_holder(plain) is not None

    page.goto("/admin/access/apikey/")
    run_action(page, "checkout-eu", "revoke")
    expect(page.locator(".messagelist")).to_contain_text("Revoked")
    api_keys.forget_api_keys()
    assert api_keys.key_holder(plain) is None


def test_a_campaign_runs_from_creation_to_exhaustion(page: Page, tmp_path: Path) -> None:
    from core.errors import BudgetExhausted
    from coupons.models import Campaign

    # Create it: 5 EUR off, a budget of 10 EUR, at most 5 redemptions.
    page.goto("/admin/coupons/campaign/add/")
    page.fill("#id_name", "Black Friday browser")
    page.fill("#id_discount_amount_off", "500")
    page.fill("#id_discount_currency", "EUR")
    page.fill("#id_max_redemptions", "5")
    page.fill("#id_budget_amount", "1000")
    page.fill("#id_budget_currency", "EUR")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Black Friday browser")
    campaign = Campaign.objects.get(name="Black Friday browser")

    # Generate its codes and download them.
    page.goto(f"/admin/coupons/campaign/{campaign.pk}/change/")
    page.click("text=Generate codes for this campaign")
    page.fill("#id_count", "4")
    page.fill("#id_prefix", "BFB-")
    page.fill("#id_length", "8")
    with page.expect_download() as download_info:
        page.click("input[type=submit]")
    saved = tmp_path / "campaign-codes.csv"
    download_info.value.save_as(saved)
    codes = [row[0] for row in csv.reader(saved.open())][1:]
    assert len(codes) == 4
    assert Coupon.objects.filter(code__in=codes, campaign=campaign).count() == 4

    # Spend the budget: two orders take 5 EUR each; a third finds it exhausted.
    order = {"amount": 2000, "currency": "EUR"}
    for code in codes[:2]:
        redemptions.redeem_coupon(code=code, order=order)
    with pytest.raises(BudgetExhausted):
        redemptions.redeem_coupon(code=codes[2], order=order)

    # Its counters and spend bar, then its codes from the link.
    page.goto("/admin/coupons/campaign/")
    row = page.locator("tr", has_text="Black Friday browser")
    expect(row).to_contain_text("1000 / 1000 EUR")
    expect(row).to_contain_text("2 / 5")
    row.locator("text=its codes").click()
    for code in codes:
        expect(page.locator("#result_list")).to_contain_text(code)

    # Stop it with the action.
    page.goto("/admin/coupons/campaign/")
    run_action(page, "Black Friday browser", "deactivate")
    expect(page.locator(".messagelist")).to_contain_text("Deactivated 1")
    campaign.refresh_from_db()
    assert campaign.is_active is False
    assert (campaign.redemption_count, campaign.discount_total) == (2, 1000)
