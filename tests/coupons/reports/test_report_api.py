"""GET /v1/campaigns/{id}/report/ and /v1/coupons/{id}/report/ through the ASGI app, exact
against the hand-built ledger (tests/coupons/reports/ledger.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from coupons.services import reports
from tests.coupons.reports.ledger import NOW, OCT_FROM, OCT_TO, Ledger, build_ledger
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def ledger(transactional_db: Any, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    # The holds are judged at NOW (one held hold is past its expiry, one still live).
    monkeypatch.setattr(reports.timezone, "now", lambda: NOW)
    return await sync_to_async(build_ledger)()


def day(start: str, made: int, reverted: int, discount: int, order: int) -> dict[str, Any]:
    return {"start": start, "redemptions": made, "reverted": reverted,
            "discount_amount": discount, "order_amount": order}  # fmt: skip


async def report(api, manage, path: str, **params: str) -> dict[str, Any]:
    response = await api.get(path, params=params, headers=manage)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


async def test_a_campaign_report_counts_its_codes_by_the_days_of_the_zone(api, manage, ledger):
    body = await report(
        api, manage, f"/v1/campaigns/{ledger.campaign.pk}/report/",
        **{"from": OCT_FROM, "to": OCT_TO, "tz": "Europe/Berlin"},
    )  # fmt: skip

    assert body == {
        "from": "2026-10-23T22:00:00Z", "to": "2026-10-26T23:00:00Z", "interval": "day",
        "tz": "Europe/Berlin",
        "totals": {
            "redemptions": 7, "reverted": 2, "live": 5, "discount_total": 2000,
            "order_total": 16000, "unique_customers": 2, "holds_confirmed": 2,
            "holds_released": 1, "holds_expired": 2,
        },
        "series": [
            day("2026-10-24T00:00:00+02:00", 1, 0, 500, 2000),
            # 25 hours long: both 02:30s, and its last second.
            day("2026-10-25T00:00:00+02:00", 4, 1, 1000, 7000),
            day("2026-10-26T00:00:00+01:00", 2, 1, 500, 7000),
        ],
    }  # fmt: skip


async def test_the_same_range_in_utc_has_other_days(api, manage, ledger):
    body = await report(
        api, manage, f"/v1/campaigns/{ledger.campaign.pk}/report/",
        **{"from": OCT_FROM, "to": OCT_TO},
    )  # fmt: skip

    assert body["tz"] == "UTC"
    assert body["series"] == [
        day("2026-10-23T00:00:00+00:00", 1, 0, 500, 2000),
        day("2026-10-24T00:00:00+00:00", 1, 0, 500, 3000),
        day("2026-10-25T00:00:00+00:00", 4, 2, 500, 4000),
        day("2026-10-26T00:00:00+00:00", 1, 0, 500, 7000),
    ]
    assert body["totals"]["redemptions"] == 7


async def test_the_25_hour_day_has_25_hours_and_the_repeated_hour_twice(api, manage, ledger):
    body = await report(
        api, manage, f"/v1/campaigns/{ledger.campaign.pk}/report/",
        **{"from": "2026-10-25T00:00:00+02:00", "to": "2026-10-26T00:00:00+01:00",
           "interval": "hour", "tz": "Europe/Berlin"},
    )  # fmt: skip

    series = body["series"]
    assert len(series) == 25
    assert [entry["start"] for entry in series[:5]] == [
        "2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00",
    ]  # fmt: skip
    assert series[1] == day("2026-10-25T01:00:00+02:00", 1, 0, 500, 3000)
    assert series[2] == day("2026-10-25T02:00:00+02:00", 1, 0, 500, 4000)
    assert series[3] == day("2026-10-25T02:00:00+01:00", 1, 1, 0, 0)
    assert series[24] == day("2026-10-25T23:00:00+01:00", 1, 0, 0, 0)
    assert sum(entry["redemptions"] for entry in series) == body["totals"]["redemptions"] == 4


async def test_the_23_hour_day_has_23_hours_and_no_two_oclock(api, manage, ledger):
    path = f"/v1/coupons/{ledger.code_a.pk}/report/"
    spring = {"from": "2026-03-29T00:00:00+01:00", "to": "2026-03-30T00:00:00+02:00",
              "tz": "Europe/Berlin"}  # fmt: skip

    daily = await report(api, manage, path, **spring)
    hourly = await report(api, manage, path, **spring, interval="hour")

    assert daily["series"] == [day("2026-03-29T00:00:00+01:00", 2, 0, 1000, 2500)]
    starts = [entry["start"] for entry in hourly["series"]]
    assert len(starts) == 23
    assert starts[:4] == ["2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00",
                          "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"]  # fmt: skip
    assert starts[-1] == "2026-03-29T23:00:00+02:00"
    assert [entry["redemptions"] for entry in hourly["series"][:3]] == [0, 1, 1]


async def test_a_coupon_report_counts_only_that_coupon(api, manage, ledger):
    body = await report(
        api, manage, f"/v1/coupons/{ledger.code_a.pk}/report/",
        **{"from": OCT_FROM, "to": OCT_TO, "tz": "Europe/Berlin"},
    )  # fmt: skip

    assert body["totals"] == {
        "redemptions": 3, "reverted": 0, "live": 3, "discount_total": 1000, "order_total": 6000,
        "unique_customers": 1, "holds_confirmed": 1, "holds_released": 1, "holds_expired": 1,
    }  # fmt: skip
    assert body["series"] == [
        day("2026-10-24T00:00:00+02:00", 1, 0, 500, 2000),
        day("2026-10-25T00:00:00+02:00", 2, 0, 500, 4000),
        day("2026-10-26T00:00:00+01:00", 0, 0, 0, 0),
    ]


async def test_by_default_the_last_30_days_until_now_in_utc(api, manage, ledger):
    body = await report(api, manage, f"/v1/coupons/{ledger.outsider.pk}/report/")

    # NOW is midnight UTC: 30 whole days; the coupon was redeemed once, on 25 October.
    assert (body["from"], body["to"]) == ("2026-10-02T00:00:00Z", "2026-11-01T00:00:00Z")
    assert (body["interval"], body["tz"]) == ("day", "UTC")
    assert len(body["series"]) == 30
    assert body["series"][0]["start"] == "2026-10-02T00:00:00+00:00"
    assert [entry["redemptions"] for entry in body["series"]] == [0] * 23 + [1] + [0] * 6
    assert body["totals"]["holds_released"] == 1


async def test_a_range_that_cuts_days_still_shows_the_days_it_touches(api, manage, ledger):
    body = await report(
        api, manage, f"/v1/campaigns/{ledger.campaign.pk}/report/",
        **{"from": "2026-10-25T12:00:00+01:00", "to": "2026-10-26T00:00:00.000001+01:00",
           "tz": "Europe/Berlin"},
    )  # fmt: skip

    assert [entry["start"] for entry in body["series"]] == [
        "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00",
    ]  # fmt: skip
    assert [entry["redemptions"] for entry in body["series"]] == [1, 1]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-10-24T00:00:00"}, "from"),  # no offset
        ({"to": "2026-13-01T00:00:00Z"}, "to"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"tz": "localtime"}, "tz"),
        ({"tz": "europe/berlin"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"interval": "week"}, "interval"),
        ({"from": "2026-10-24T00:00:00Z", "to": "2026-10-24T00:00:00Z"}, "from"),
        ({"from": "2026-10-25T00:00:00Z", "to": "2026-10-24T00:00:00Z"}, "from"),
        ({"from": "2025-10-24T00:00:00Z", "to": "2026-10-25T00:00:00.000001Z"}, "from"),
        ({"page_size": "5"}, "page_size"),
    ],
)
async def test_bad_parameters_are_400s_naming_them(api, manage, ledger, params, name):
    response = await api.get(
        f"/v1/campaigns/{ledger.campaign.pk}/report/", params=params, headers=manage
    )

    body = assert_problem(response, 400, "validation_error")
    assert list(body["errors"]) == [name]


async def test_a_full_leap_year_is_allowed(api, manage, ledger):
    body = await report(
        api, manage, f"/v1/campaigns/{ledger.campaign.pk}/report/",
        **{"from": "2027-10-24T00:00:00Z", "to": "2028-10-24T00:00:00Z"},
    )  # fmt: skip

    assert len(body["series"]) == 366


async def test_a_parameter_given_twice_is_a_400(api, manage, ledger):
    response = await api.get(
        f"/v1/coupons/{ledger.code_a.pk}/report/?tz=UTC&tz=Europe/Berlin", headers=manage
    )

    assert assert_problem(response, 400, "validation_error")["errors"] == {"tz": ["Give it once."]}


async def test_unknown_coupons_and_campaigns_are_404s(api, manage, ledger):
    for kind in ("coupons", "campaigns"):
        response = await api.get(f"/v1/{kind}/{uuid.uuid4()}/report/", headers=manage)
        assert_problem(response, 404, "not_found")


async def test_a_redeem_key_may_not_read_reports(api, redeem, ledger):
    response = await api.get(f"/v1/campaigns/{ledger.campaign.pk}/report/", headers=redeem)

    assert_problem(response, 403, "permission_denied")


async def test_the_openapi_document_describes_the_report(api):
    document = (await api.get("/v1/schema/")).json()

    operation = document["paths"]["/v1/campaigns/{campaign_id}/report/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "interval", "tz"}
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404"}
    report = document["components"]["schemas"]["Report"]["properties"]
    assert set(report) == {"from", "to", "interval", "tz", "totals", "series"}
