"""The OpenAPI document at /v1/schema/ and Swagger UI at /v1/docs/, served with no key and
with nothing fetched from another host."""

from __future__ import annotations

import re

import pytest

from coupons.domain.writable import CAMPAIGN_FIELDS, COUPON_FIELDS

pytestmark = pytest.mark.django_db(transaction=True)

CONTRACT = {
    ("post", "/v1/coupons/"), ("get", "/v1/coupons/"), ("get", "/v1/coupons/{coupon_id}/"),
    ("patch", "/v1/coupons/{coupon_id}/"), ("delete", "/v1/coupons/{coupon_id}/"),
    ("post", "/v1/coupons/batch/"), ("get", "/v1/coupons/{coupon_id}/redemptions/"),
    ("post", "/v1/redemptions/"), ("get", "/v1/redemptions/"),
    ("get", "/v1/redemptions/{redemption_id}/"),
    ("post", "/v1/redemptions/{redemption_id}/revert/"), ("post", "/v1/validations/"),
    ("get", "/healthz"), ("get", "/readyz"),
    ("post", "/v1/campaigns/"), ("get", "/v1/campaigns/"),
    ("get", "/v1/campaigns/{campaign_id}/"), ("patch", "/v1/campaigns/{campaign_id}/"),
    ("delete", "/v1/campaigns/{campaign_id}/"),
    ("post", "/v1/reservations/"), ("get", "/v1/reservations/{reservation_id}/"),
    ("post", "/v1/reservations/{reservation_id}/confirm/"),
    ("post", "/v1/reservations/{reservation_id}/release/"),
    ("get", "/v1/events/"), ("get", "/v1/events/{event_id}/"),
    ("post", "/v1/webhook-endpoints/"), ("get", "/v1/webhook-endpoints/"),
    ("get", "/v1/webhook-endpoints/{endpoint_id}/"),
    ("patch", "/v1/webhook-endpoints/{endpoint_id}/"),
    ("delete", "/v1/webhook-endpoints/{endpoint_id}/"),
    ("get", "/v1/webhook-endpoints/{endpoint_id}/deliveries/"),
    ("get", "/v1/coupons/{coupon_id}/report/"), ("get", "/v1/campaigns/{campaign_id}/report/"),
    ("post", "/v1/coupons/import/"), ("get", "/v1/redemptions/export/"),
    ("post", "/v1/redemption-groups/"), ("get", "/v1/redemption-groups/{group_id}/"),
    ("post", "/v1/redemption-groups/{group_id}/revert/"),
    ("post", "/v1/reservation-groups/"), ("get", "/v1/reservation-groups/{group_id}/"),
    ("post", "/v1/reservation-groups/{group_id}/confirm/"),
    ("post", "/v1/reservation-groups/{group_id}/release/"),
}  # fmt: skip


async def test_the_schema_lists_every_contract_operation_with_its_problems(api):
    response = await api.get("/v1/schema/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    operations = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert operations == CONTRACT
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    redeem = document["paths"]["/v1/redemptions/"]["post"]
    assert redeem["security"] == [{"bearerAuth": []}]
    assert set(redeem["responses"]) >= {"201", "400", "401", "403", "404", "409", "422", "429"}
    assert "application/problem+json" in redeem["responses"]["409"]["content"]
    assert redeem["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RedemptionInput"
    )
    assert any(p["name"] == "Idempotency-Key" for p in redeem["parameters"])
    listing = document["paths"]["/v1/coupons/"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "code", "code_prefix", "is_active", "exhausted", "campaign_id", "cursor", "page_size",
    }  # fmt: skip
    coupon = document["components"]["schemas"]["Coupon"]["properties"]
    # The contract's fields at least; and beyond them only the declared writable ones.
    assert set(coupon) >= {
        "id", "code", "init_count", "remaining_count", "held_count", "is_active", "starts_at",
        "expires_at", "per_customer_limit", "created_at", "updated_at", "discount", "metadata",
        "campaign_id",
    }  # fmt: skip
    assert set(coupon) == {
        "id", "remaining_count", "held_count", "created_at", "updated_at",
        *(field.name for field in COUPON_FIELDS),
    }  # fmt: skip


async def test_the_schema_shows_every_field_and_code_of_discounts_and_metadata(api):
    document = (await api.get("/v1/schema/")).json()
    schemas = document["components"]["schemas"]

    # The five always; the targeting fields when set; combines_with always (third part).
    assert set(schemas["Discount"]["properties"]) == {
        "percent_off", "amount_off", "currency", "max_amount_off", "min_order_amount",
        "applies_to", "excludes", "min_quantity", "allocation", "target", "buy_x_get_y",
        "combines_with",
    }  # fmt: skip
    assert set(schemas["Discount"]["required"]) == {
        "percent_off", "amount_off", "currency", "max_amount_off", "min_order_amount",
        "combines_with",
    }  # fmt: skip
    assert schemas["Discount"]["properties"]["percent_off"]["type"] == "number"
    assert {"order_amount", "currency", "discount_amount", "metadata"} <= set(
        schemas["Redemption"]["properties"]
    )
    assert {"discount_amount", "amount_after_discount", "currency", "details"} <= set(
        schemas["ValidationResult"]["properties"]
    )
    assert set(schemas["RefusalDetails"]["properties"]) == {
        "min_order_amount", "shortfall", "currency",
    }  # fmt: skip
    assert "details" in schemas["Problem"]["properties"]
    for name in ("CouponCreateInput", "CouponBatchInput", "PatchedCouponPatchInput"):
        assert {"discount", "metadata"} <= set(schemas[name]["properties"]), name
    assert {"order", "metadata"} <= set(schemas["RedemptionInput"]["properties"])
    assert "order" in schemas["ValidationInput"]["properties"]
    assert schemas["DiscountInput"]["additionalProperties"] is False
    assert schemas["OrderInput"]["required"] == ["currency"]  # amount: not with lines

    redeem = document["paths"]["/v1/redemptions/"]["post"]["responses"]
    assert "order_required" in redeem["400"]["description"]
    for code in ("currency_mismatch", "min_order_amount_not_met"):
        assert code in redeem["409"]["description"]
    patch = document["paths"]["/v1/coupons/{coupon_id}/"]["patch"]["responses"]
    assert "discount_locked" in patch["409"]["description"]


async def test_the_schema_shows_campaigns_their_codes_and_their_refusals(api):
    document = (await api.get("/v1/schema/")).json()
    schemas = document["components"]["schemas"]

    campaign = set(schemas["Campaign"]["properties"])
    assert campaign >= {
        "id", "name", "is_active", "starts_at", "expires_at", "discount",
        "per_customer_limit", "max_redemptions", "budget", "redemption_count", "held_count",
        "discount_total", "budget_remaining", "coupon_count", "metadata", "created_at",
        "updated_at",
    }  # fmt: skip
    assert campaign == {
        "id", "redemption_count", "held_count", "discount_total", "budget_remaining",
        "coupon_count", "created_at", "updated_at", *(field.name for field in CAMPAIGN_FIELDS),
    }  # fmt: skip
    assert set(schemas["Money"]["properties"]) == {"amount", "currency"}
    for name in ("CouponCreateInput", "CouponBatchInput"):
        assert "campaign_id" in schemas[name]["properties"], name
    assert "campaign_id" not in schemas["PatchedCouponPatchInput"]["properties"]
    listing = document["paths"]["/v1/campaigns/"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"is_active", "cursor", "page_size"}
    redeem = document["paths"]["/v1/redemptions/"]["post"]["responses"]
    for code in ("campaign_inactive", "campaign_not_started", "campaign_expired",
                 "campaign_exhausted", "budget_exhausted"):  # fmt: skip
        assert code in redeem["409"]["description"]
    patch = document["paths"]["/v1/campaigns/{campaign_id}/"]["patch"]["responses"]
    for code in ("discount_locked", "budget_below_spent", "count_below_used"):
        assert code in patch["409"]["description"]
    delete = document["paths"]["/v1/campaigns/{campaign_id}/"]["delete"]["responses"]
    assert "has_redemptions" in delete["409"]["description"]


def test_the_schema_is_a_valid_openapi_document():
    from django.core.management import call_command

    # drf-spectacular's own validation against the OpenAPI 3 meta-schema; warnings fail too
    # (they are how adrf actions misread as list endpoints would show).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


async def test_swagger_ui_loads_everything_from_this_server(api):
    response = await api.get("/v1/docs/")

    assert response.status_code == 200
    html = response.text
    assert "swagger-ui" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    for url in urls:
        assert url.startswith("/"), f"{url} would be fetched from another host"
        asset = await api.get(url)
        assert asset.status_code == 200, url
    assert "//cdn" not in html and "https://" not in html
