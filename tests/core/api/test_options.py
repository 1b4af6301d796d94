"""OPTIONS on every route of the API and the probes: 200 with `Allow`, as plain JSON."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db(transaction=True)

NOT_OURS = ("admin", "metrics")  # Django's admin answers OPTIONS itself; /metrics is hidden


def every_route() -> list[str]:
    """The paths of config.urls (ids made up), less the admin, /metrics and regex routes."""
    found: list[str] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = str(pattern.pattern)
            if route.startswith("^") or route.rstrip("/") in NOT_OURS:
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + route)
            else:
                found.append(re.sub(r"<id:\w+>", str(uuid.uuid4()), prefix + route))

    walk(get_resolver().url_patterns, "/")
    return found


ID = "<id>"
ROUTES = [
    "/v1/coupons/", "/v1/coupons/batch/", "/v1/coupons/import/", f"/v1/coupons/{ID}/",
    f"/v1/coupons/{ID}/redemptions/", f"/v1/coupons/{ID}/report/",
    "/v1/redemptions/", "/v1/redemptions/export/", f"/v1/redemptions/{ID}/",
    f"/v1/redemptions/{ID}/revert/", "/v1/validations/", "/v1/campaigns/", f"/v1/campaigns/{ID}/",
    f"/v1/campaigns/{ID}/report/", "/v1/redemption-groups/", f"/v1/redemption-groups/{ID}/",
    f"/v1/redemption-groups/{ID}/revert/", "/v1/reservation-groups/",
    f"/v1/reservation-groups/{ID}/", f"/v1/reservation-groups/{ID}/confirm/",
    f"/v1/reservation-groups/{ID}/release/",
    "/v1/reservations/", f"/v1/reservations/{ID}/", f"/v1/reservations/{ID}/confirm/",
    f"/v1/reservations/{ID}/release/", "/v1/events/", f"/v1/events/{ID}/",
    "/v1/webhook-endpoints/", f"/v1/webhook-endpoints/{ID}/",
    f"/v1/webhook-endpoints/{ID}/deliveries/",
    "/v1/schema/", "/v1/docs/", "/healthz", "/healthz/", "/readyz", "/readyz/",
]  # fmt: skip


def test_the_route_list_is_every_route_of_the_service():
    # Resolved here, not at collection: importing the URLconf then would open the database
    # pool before pytest-django has named the test database.
    made_up = [re.sub(r"[0-9a-f-]{36}", ID, route) for route in every_route()]
    assert sorted(made_up) == sorted(ROUTES)


@pytest.mark.parametrize("route", ROUTES)
async def test_options_answers_200_with_allow_as_json_without_a_key(api, route):
    response = await api.options(route.replace(ID, str(uuid.uuid4())))

    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    allowed = [m.strip() for m in response.headers["allow"].split(",")]
    assert "OPTIONS" in allowed and len(allowed) >= 2
    assert response.json() == {"methods": allowed}
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_options_lists_exactly_what_the_route_serves(api, manage):
    response = await api.options("/v1/coupons/", headers=manage)

    assert set(response.json()["methods"]) == {"GET", "POST", "HEAD", "OPTIONS"}
    refused = await api.put("/v1/coupons/", headers=manage)
    assert refused.status_code == 405
