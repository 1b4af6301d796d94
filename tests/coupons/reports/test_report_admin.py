"""The admin's charts, series CSV and redemptions CSV on the coupon and campaign change
pages, and the CSV upload form, through Django's test client."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from coupons.models import Coupon
from coupons.services import campaigns as campaign_service
from coupons.services import redemptions
from coupons.services.exports import EXPORT_HEADER
from tests.coupons.reports.ledger import redeem_at
from tests.factories import make_coupon

pytestmark = pytest.mark.django_db(transaction=True)


def streamed(response) -> str:
    """The body of a response streamed from an async iterator (as under ASGI)."""

    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return async_to_sync(collect)().decode()


def bars(page: str, chart: str) -> int:
    svg = re.search(rf'<svg class="chart {chart}".*?</svg>', page, re.S)
    assert svg is not None, f"no {chart} chart"
    return svg.group(0).count('class="bar"')


@pytest.fixture
def campaign_with_spend():
    campaign = campaign_service.create_campaign(
        name="Winter", discount={"amount_off": 500, "currency": "EUR"},
        budget={"amount": 10_000, "currency": "EUR"},
    )  # fmt: skip
    code = make_coupon("WINTER-1", init_count=50, campaign_id=campaign.pk)
    order = {"amount": 3000, "currency": "EUR"}
    for customer in ("a", "b", "c"):
        redemptions.redeem_coupon(code="WINTER-1", customer_id=customer, order=order)
    return campaign, code


def test_a_campaign_page_draws_30_days_and_its_budget_burn_down(staff, campaign_with_spend):
    campaign, code = campaign_with_spend
    # An older one, ten days ago: its own bar.
    redeem_at(code, (timezone.now() - timedelta(days=10)).isoformat(), order=1000, discount=500)

    page = staff.get(reverse("admin:coupons_campaign_change", args=[campaign.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert bars(html, "redemptions") == 30 and bars(html, "discount") == 30
    assert '<svg class="chart burn-down"' in html and "Budget left: 8,500 of 10,000 EUR" in html
    assert "<th>redemptions</th><td>4</td>" in html
    assert "<th>unique customers</th><td>3</td>" in html
    series = staff.get(reverse("admin:coupons_campaign_report_csv", args=[campaign.pk]))
    assert series["Content-Type"] == "text/csv"
    lines = list(csv.DictReader(io.StringIO(series.content.decode())))
    assert len(lines) == 30
    assert [int(line["redemptions"]) for line in lines][-11:] == [1] + [0] * 9 + [3]
    assert int(lines[-1]["discount_amount"]) == 1500


def test_a_coupon_page_draws_its_chart_and_exports_its_redemptions(staff):
    coupon = make_coupon("CHART-1", init_count=5)
    redemptions.redeem_coupon(code="CHART-1", customer_id="x", order_id="o-1")
    second = redemptions.redeem_coupon(code="chart-1")
    redemptions.revert_redemption(second.id)

    html = staff.get(reverse("admin:coupons_coupon_change", args=[coupon.pk])).content.decode()
    exported = staff.get(reverse("admin:coupons_coupon_redemptions_csv", args=[coupon.pk]))

    assert bars(html, "redemptions") == 30 and "burn-down" not in html
    assert "<th>reverted</th><td>1</td>" in html
    rows = list(csv.reader(io.StringIO(streamed(exported))))
    assert rows[0] == EXPORT_HEADER
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [("CHART-1", "x", "o-1"), ("CHART-1", "", "")]
    assert rows[2][5].endswith("Z")  # reverted_at


def test_the_add_page_has_no_chart(staff):
    page = staff.get(reverse("admin:coupons_coupon_add")).content.decode()

    assert "chart" not in page


def test_an_upload_imports_all_rows(staff):
    campaign = campaign_service.create_campaign(name="Printed", discount={"percent_off": 5})
    upload = SimpleUploadedFile(
        "codes.csv", b"code,init_count\nPRINT-1,1\nPRINT-2,3\n", content_type="text/csv"
    )

    response = staff.post(
        reverse("admin:coupons_coupon_import"), {"file": upload, "campaign": str(campaign.pk)}
    )

    assert response.status_code == 302
    assert Coupon.objects.filter(campaign=campaign).count() == 2


def test_an_upload_with_bad_rows_shows_them_and_imports_nothing(staff):
    make_coupon("TAKEN")
    upload = SimpleUploadedFile(
        "codes.csv", b"code,init_count\nOK-1,1\nBAD CODE,1\ntaken,2\nOK-2,zero\n"
    )

    response = staff.post(reverse("admin:coupons_coupon_import"), {"file": upload})

    html = response.content.decode()
    assert response.status_code == 200
    assert '<table id="import-errors">' in html
    for key in ("3.code", "4.code", "5.init_count"):
        assert f"<td>{key}</td>" in html
    assert "already exists" in html
    assert list(Coupon.objects.values_list("code", flat=True)) == ["TAKEN"]


def test_the_coupon_list_links_to_the_upload(staff):
    page = staff.get(reverse("admin:coupons_coupon_changelist")).content.decode()

    assert reverse("admin:coupons_coupon_import") in page
