"""What a shop's developer does with the generated client, step by step, in order: every
operation of the document and every refusal a client can provoke, each answer read as its
model (tests/client/harness.py). A new route gets its steps here: the test fails until
every operation of the document has been called (test_every_operation_is_called)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.client.harness import Api

STEPS: list[Callable[[Api], None]] = []


def step(function: Callable[[Api], None]) -> Callable[[Api], None]:
    STEPS.append(function)
    return function


def cursor_of(link: str | None) -> str | None:
    """A page's `next` or `previous` link as the client's `cursor` argument."""
    if link is None:
        return None
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(link).query)["cursor"][0]


def order(api: Api, amount: int) -> Any:
    return api.m.OrderInput(currency=api.m.CurrencyEnum.EUR, amount=amount)


def cart(api: Api, *, shipping: int = 495) -> Any:
    line = api.m.OrderInputLinesType0Item
    return api.m.OrderInput(
        currency=api.m.CurrencyEnum.EUR,
        shipping_amount=shipping,
        lines=[
            line(id="l1", product_id="shoe-7", categories=["shoes"], quantity=2, unit_amount=4999),
            line(id="l2", product_id="hat-1", categories=["hats"], quantity=1, unit_amount=2500),
        ],
    )


@step
def the_server_is_up_and_describes_itself(api: Api) -> None:
    health = api.ok(api.call("healthz", client=api.anonymous), "Health")
    assert health.status.value == "ok"
    api.ok(api.call("readyz", client=api.anonymous), "Health")
    schema = api.anonymous.get_httpx_client().get("/v1/schema/?format=json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")


@step
def coupons_are_created_read_listed_and_changed(api: Api) -> None:
    m, run = api.m, api.state["run"]
    created = api.call(
        "create_coupon",
        body=m.CouponCreateInput(
            code=f"SPRING-{run}",
            init_count=100,
            discount=m.DiscountInput(
                percent_off=12.5, currency=m.CurrencyEnum.EUR, max_amount_off=5000
            ),
            metadata=m.CouponCreateInputMetadata.from_dict({"channel": "newsletter"}),
        ),
    )
    coupon = api.ok(created, "Coupon", 201)
    assert created.headers["Location"] == f"{api.base_url}/v1/coupons/{coupon.id}/"
    assert coupon.discount.percent_off == 12.5 and coupon.metadata["channel"] == "newsletter"
    api.state["spring"] = coupon
    assert api.ok(api.call("get_coupon", str(coupon.id)), "Coupon").code == coupon.code

    changed = api.call(
        "update_coupon",
        str(coupon.id),
        body=m.PatchedCouponPatchInput(
            init_count=200, metadata=m.PatchedCouponPatchInputMetadata.from_dict({"tier": "b"})
        ),
    )
    coupon = api.ok(changed, "Coupon")
    assert (coupon.remaining_count, coupon.metadata["tier"]) == (200, "b")

    for number in range(3):
        api.ok(
            api.call(
                "create_coupon",
                body=m.CouponCreateInput(code=f"PLAIN-{run}-{number}", init_count=1),
            ),
            "Coupon",
            201,
        )
    page = api.ok(api.call("list_coupons", code_prefix=f"plain-{run}", page_size=2), "CouponPage")
    assert len(page.results) == 2 and page.next_ is not None and page.previous is None
    following = api.call(
        "list_coupons", code_prefix=f"plain-{run}", page_size=2, cursor=cursor_of(page.next_)
    )
    rest = api.ok(following, "CouponPage")
    assert [c.code for c in rest.results] == [f"PLAIN-{run}-0"], rest
    assert rest.next_ is None and rest.previous is not None
    filtered = api.call(
        "list_coupons", code=f"spring-{run}", is_active=True, exhausted=False, page_size=500
    )
    assert [c.id for c in api.ok(filtered, "CouponPage").results] == [coupon.id]


@step
def a_batch_makes_many_codes_and_a_coupon_can_be_deleted(api: Api) -> None:
    m = api.m
    made = api.call(
        "create_coupon_batch",
        body=m.CouponBatchInput(count=3, init_count=5, length=8, prefix=f"B{api.state['run']}-"),
    )
    batch = api.ok(made, "Batch", 201)
    assert batch.created == 3 and len(batch.codes) == 3
    assert "Location" not in made.headers  # many coupons: no one URL
    found = api.ok(api.call("list_coupons", code=batch.codes[0]), "CouponPage").results[0]
    assert api.call("delete_coupon", str(found.id)).status_code == 204
    api.refused(api.call("get_coupon", str(found.id)), 404, "not_found")


@step
def validations_price_one_code_or_several_on_a_cart(api: Api) -> None:
    m, run = api.m, api.state["run"]
    one = api.call(
        "validate_code",
        body=m.ValidationInput(code=f"spring-{run}", order=order(api, 12999)),
        client=api.redeem,
    )
    result = api.ok(one, "ValidationResult")
    assert (result.valid, result.discount_amount, result.currency.value) == (True, 1625, "EUR")

    for code, discount in (
        (f"SHIP-{run}", {"percent_off": 100, "target": "shipping",
                         "combines_with": {"product": True, "order": True}}),
        (f"SHOES-{run}", {"percent_off": 20, "applies_to": {"categories": ["shoes"]},
                          "combines_with": {"shipping": True}}),
    ):  # fmt: skip
        body = m.CouponCreateInput(
            code=code, init_count=10, discount=m.DiscountInput.from_dict(discount)
        )
        api.ok(api.call("create_coupon", body=body), "Coupon", 201)
    several = api.call(
        "validate_code",
        body=m.ValidationInput(codes=[f"SHIP-{run}", f"SHOES-{run}"], order=cart(api)),
        client=api.redeem,
    )
    shoes = api.call(
        "validate_code", body=m.ValidationInput(code=f"SHOES-{run}", order=cart(api)),
        client=api.redeem,
    )  # fmt: skip
    priced = api.ok(shoes, "ValidationResult")
    assert priced.discount_amount == 2000 and priced.allocations is not None
    combined = api.ok(several, "CodesValidationResult")
    assert combined.valid and combined.discount_amount == 2000 + 495
    assert [r.code for r in combined.results] == [f"SHOES-{run}", f"SHIP-{run}"]

    unknown = api.call(
        "validate_code",
        body=m.ValidationInput(code=f"NOPE-{run}", customer_id="guesser-1"),
        client=api.redeem,
    )
    refused = api.ok(unknown, "ValidationResult")
    assert (refused.valid, refused.reason.value) == (False, "coupon_not_found")


@step
def redemptions_are_idempotent_listed_and_reverted(api: Api) -> None:
    m, run = api.m, api.state["run"]
    body = m.RedemptionInput(
        code=f"spring-{run}",
        customer_id="c-42",
        order_id="o-1",
        order=order(api, 12999),
        metadata=m.RedemptionInputMetadata.from_dict({"till": "3"}),
    )
    key = f"redeem-{run}"
    first = api.call("redeem", body=body, idempotency_key=key, client=api.redeem)
    redemption = api.ok(first, "Redemption", 201)
    assert first.headers["Location"] == f"{api.base_url}/v1/redemptions/{redemption.id}/"
    assert "Idempotent-Replayed" not in first.headers
    assert (redemption.discount_amount, redemption.order_amount) == (1625, 12999)
    again = api.call("redeem", body=body, idempotency_key=key, client=api.redeem)
    assert api.ok(again, "Redemption", 201).id == redemption.id
    assert again.headers["Idempotent-Replayed"] == "true"
    other = m.RedemptionInput(code=f"spring-{run}", order=order(api, 5000))
    api.refused(
        api.call("redeem", body=other, idempotency_key=key, client=api.redeem),
        422,
        "idempotency_key_reused",
    )

    got = api.ok(api.call("get_redemption", str(redemption.id), client=api.redeem), "Redemption")
    assert got.metadata["till"] == "3"
    coupon_id = api.state["spring"].id
    for filters in ({"coupon_id": coupon_id}, {"customer_id": "c-42"}, {"code": f"SPRING-{run}"}):
        page = api.ok(api.call("list_redemptions", **filters), "RedemptionPage")
        assert [r.id for r in page.results] == [redemption.id], filters
    of_coupon = api.ok(api.call("list_coupon_redemptions", str(coupon_id)), "RedemptionPage")
    assert [r.id for r in of_coupon.results] == [redemption.id]

    reverted = api.call("revert_redemption", str(redemption.id), client=api.redeem)
    assert api.ok(reverted, "Redemption").reverted_at is not None
    api.refused(
        api.call("revert_redemption", str(redemption.id), client=api.redeem),
        409,
        "already_reverted",
    )
    api.state["redemption"] = api.ok(
        api.call("redeem", body=body, client=api.redeem), "Redemption", 201
    )


@step
def campaigns_have_codes_a_budget_and_a_report(api: Api) -> None:
    m, run = api.m, api.state["run"]
    body = m.CampaignCreateInput(
        name=f"Black Friday {run}",
        discount=m.DiscountInput(percent_off=20, currency=m.CurrencyEnum.EUR, max_amount_off=1500),
        per_customer_limit=1,
        max_redemptions=1000,
        budget=m.BudgetInput(amount=500000, currency=m.CurrencyEnum.EUR),
    )
    created = api.call("create_campaign", body=body)
    campaign = api.ok(created, "Campaign", 201)
    assert created.headers["Location"] == f"{api.base_url}/v1/campaigns/{campaign.id}/"
    api.state["campaign"] = campaign
    code = m.CouponCreateInput(code=f"BF-{run}", init_count=5, campaign_id=campaign.id)
    api.ok(api.call("create_coupon", body=code), "Coupon", 201)
    codes = api.ok(api.call("list_coupons", campaign_id=campaign.id), "CouponPage")
    assert [c.campaign_id for c in codes.results] == [campaign.id]
    use = m.RedemptionInput(code=f"bf-{run}", customer_id="c-1", order=order(api, 12999))
    assert api.ok(api.call("redeem", body=use, client=api.redeem), "Redemption", 201)
    api.refused(api.call("redeem", body=use, client=api.redeem), 409, "customer_limit_reached")

    read = api.ok(api.call("get_campaign", str(campaign.id)), "Campaign")
    assert (read.redemption_count, read.discount_total, read.budget_remaining) == (1, 1500, 498500)
    patch = m.PatchedCampaignPatchInput.from_dict({"budget": {"amount": 1000, "currency": "EUR"}})
    below_spent = api.call("update_campaign", str(campaign.id), body=patch)
    api.refused(below_spent, 409, "budget_below_spent")
    patch = m.PatchedCampaignPatchInput.from_dict({"max_redemptions": 500})
    assert api.ok(api.call("update_campaign", str(campaign.id), body=patch), "Campaign")
    listed = api.ok(api.call("list_campaigns", is_active=True, page_size=500), "CampaignPage")
    assert campaign.id in [c.id for c in listed.results]

    now = datetime.now(UTC)
    report = api.call(
        "campaign_report",
        str(campaign.id),
        from_=now - timedelta(days=1),
        to=now + timedelta(minutes=1),
        interval=m.CampaignReportInterval.DAY,
    )
    assert api.ok(report, "Report").totals.redemptions == 1
    spring = str(api.state["spring"].id)
    assert api.ok(api.call("coupon_report", spring), "Report").totals.redemptions >= 1

    doomed = api.ok(
        api.call("create_campaign", body=m.CampaignCreateInput(name=f"Doomed {run}")),
        "Campaign",
        201,
    )
    assert api.call("delete_campaign", str(doomed.id)).status_code == 204
    api.refused(api.call("get_campaign", str(doomed.id)), 404, "not_found")


@step
def holds_are_confirmed_or_released(api: Api) -> None:
    m, run = api.m, api.state["run"]
    body = m.ReservationInput(code=f"SPRING-{run}", order_id="o-8", order=order(api, 12999))
    held = api.call("hold", body=body, idempotency_key=f"hold-{run}", client=api.redeem)
    hold = api.ok(held, "Reservation", 201)
    assert held.headers["Location"] == f"{api.base_url}/v1/reservations/{hold.id}/"
    assert hold.status.value == "held" and hold.discount_amount == 1625
    got = api.ok(api.call("get_reservation", str(hold.id), client=api.redeem), "Reservation")
    assert got.status == hold.status
    confirmed = api.call("confirm_reservation", str(hold.id), client=api.redeem)
    redemption = api.ok(confirmed, "Redemption", 201)
    assert confirmed.headers["Location"] == f"{api.base_url}/v1/redemptions/{redemption.id}/"

    body = m.ReservationInput(
        code=f"SPRING-{run}", order_id="o-9", order=order(api, 4000), ttl_seconds=60
    )
    other = api.ok(api.call("hold", body=body, client=api.redeem), "Reservation", 201)
    released = api.call("release_reservation", str(other.id), client=api.redeem)
    assert api.ok(released, "Reservation").status.value == "released"
    api.refused(
        api.call("release_reservation", str(other.id), client=api.redeem),
        409,
        "reservation_released",
    )
    api.refused(
        api.call("confirm_reservation", str(other.id), client=api.redeem),
        409,
        "reservation_released",
    )


@step
def several_codes_are_redeemed_together_and_reverted_together(api: Api) -> None:
    m, run = api.m, api.state["run"]
    body = m.RedemptionGroupInput(
        codes=[f"SHIP-{run}", f"SHOES-{run}"], customer_id="c-42", order_id="o-7", order=cart(api)
    )
    made = api.call("redeem_group", body=body, idempotency_key=f"group-{run}", client=api.redeem)
    group = api.ok(made, "RedemptionGroup", 201)
    assert made.headers["Location"] == f"{api.base_url}/v1/redemption-groups/{group.id}/"
    assert group.discount_amount == 2000 + 495 and len(group.redemptions) == 2
    got = api.ok(
        api.call("get_redemption_group", str(group.id), client=api.redeem), "RedemptionGroup"
    )
    assert got.id == group.id
    reverted = api.call("revert_redemption_group", str(group.id), client=api.redeem)
    assert all(r.reverted_at for r in api.ok(reverted, "RedemptionGroup").redemptions)


@step
def several_codes_are_held_together_then_confirmed_or_released(api: Api) -> None:
    m, run = api.m, api.state["run"]
    body = m.ReservationGroupInput(
        codes=[f"SHIP-{run}", f"SHOES-{run}"], customer_id="c-43", order=cart(api),
        ttl_seconds=300,
    )  # fmt: skip
    made = api.call("hold_group", body=body, idempotency_key=f"held-{run}", client=api.redeem)
    held = api.ok(made, "ReservationGroup", 201)
    assert made.headers["Location"] == f"{api.base_url}/v1/reservation-groups/{held.id}/"
    assert held.status.value == "held" and held.discount_amount == 2000 + 495
    assert [r.group_id for r in held.reservations] == [held.id, held.id]
    got = api.call("get_reservation_group", str(held.id), client=api.redeem)
    assert api.ok(got, "ReservationGroup").redemption_group_id is None
    api.refused(
        api.call("confirm_reservation", str(held.reservations[0].id), client=api.redeem),
        409,
        "held_in_group",
    )
    confirmed = api.call("confirm_reservation_group", str(held.id), client=api.redeem)
    group = api.ok(confirmed, "RedemptionGroup", 201)
    assert confirmed.headers["Location"] == f"{api.base_url}/v1/redemption-groups/{group.id}/"
    assert group.discount_amount == held.discount_amount

    other = api.ok(api.call("hold_group", body=body, client=api.redeem), "ReservationGroup", 201)
    released = api.call("release_reservation_group", str(other.id), client=api.redeem)
    assert api.ok(released, "ReservationGroup").status.value == "released"
    for operation in ("release_reservation_group", "confirm_reservation_group"):
        again = api.call(operation, str(other.id), client=api.redeem)
        api.refused(again, 409, "reservation_released")


@step
def the_event_log_reads_every_change_typed(api: Api) -> None:
    m = api.m
    kinds = [m.ListEventsTypeItem.REDEMPTION_CREATED, m.ListEventsTypeItem.COUPON_CREATED]
    page = api.ok(api.call("list_events", type_=kinds, page_size=5), "EventPage")
    assert page.results and page.next_ is not None
    seen = list(page.results)
    while True:  # follow `next` to the end: it is always there; an empty page ends it
        following = api.call("list_events", type_=kinds, cursor=cursor_of(page.next_))
        page = api.ok(following, "EventPage")
        if not page.results:
            break
        seen.extend(page.results)
    names = {type(event).__name__ for event in seen}
    assert {"CouponEvent", "RedemptionEvent"} <= names, names
    everything = api.ok(api.call("list_events", page_size=500), "EventPage").results
    assert {"CampaignEvent", "ReservationEvent"} <= {type(e).__name__ for e in everything}
    one = api.ok(api.call("get_event", str(seen[0].id)), type(seen[0]).__name__)
    assert one.data.id == seen[0].data.id


@step
def webhook_endpoints_are_managed_and_show_their_deliveries(api: Api) -> None:
    m = api.m
    body = m.WebhookEndpointCreateInput.from_dict(
        {"url": "https://93.184.216.34/hooks/coupons", "events": ["redemption.created"],
         "description": "loyalty points"}
    )  # fmt: skip
    created = api.call("create_webhook_endpoint", body=body)
    endpoint = api.ok(created, "WebhookEndpointCreated", 201)
    assert endpoint.secret
    where = f"{api.base_url}/v1/webhook-endpoints/{endpoint.id}/"
    assert created.headers["Location"] == where
    got = api.ok(api.call("get_webhook_endpoint", str(endpoint.id)), "WebhookEndpoint")
    assert got.url == endpoint.url
    listed = api.ok(api.call("list_webhook_endpoints"), "WebhookEndpointPage")
    assert endpoint.id in [e.id for e in listed.results]
    patch = m.PatchedWebhookEndpointPatchInput.from_dict({"is_active": False})
    changed = api.call("update_webhook_endpoint", str(endpoint.id), body=patch)
    assert api.ok(changed, "WebhookEndpoint").is_active is False
    deliveries = api.call("list_webhook_deliveries", str(endpoint.id))
    assert api.ok(deliveries, "WebhookAttemptPage").results == []
    assert api.call("delete_webhook_endpoint", str(endpoint.id)).status_code == 204
    api.refused(api.call("get_webhook_endpoint", str(endpoint.id)), 404, "not_found")


@step
def codes_come_in_as_csv_and_redemptions_go_out_as_csv(api: Api) -> None:
    run, campaign = api.state["run"], api.state["campaign"]
    rows = f"code,init_count\nCSV-{run}-1,3\nCSV-{run}-2,4\n".encode()
    body = api.package.types.File(payload=io.BytesIO(rows), mime_type="text/csv")
    imported = api.call("import_coupons", body=body, campaign_id=campaign.id)
    assert api.ok(imported, "ImportResult", 201).created == 2
    assert "Location" not in imported.headers  # many coupons: no one URL
    exported = api.call("export_redemptions", coupon_id=api.state["spring"].id)
    assert exported.status_code == 200
    lines = exported.parsed.payload.read().decode().splitlines()
    assert lines[0].startswith("id,code,customer_id") and len(lines) >= 3


@step
def every_refusal_is_a_problem(api: Api) -> None:
    m, run = api.m, api.state["run"]
    spring = str(api.state["spring"].id)
    # 400: a body the server refuses, naming the field.
    bad = m.CouponCreateInput(code=f"ZERO-{run}", init_count=0)
    problem = api.refused(api.call("create_coupon", body=bad), 400, "validation_error")
    assert "init_count" in problem.errors.additional_properties
    # 401 without a key and with an unknown one; 403 with a key of the wrong scope.
    api.refused(api.call("get_coupon", spring, client=api.anonymous), 401, "unauthenticated")
    api.refused(api.call("get_coupon", spring, client=api.stranger), 401, "unauthenticated")
    api.refused(api.call("get_coupon", spring, client=api.redeem), 403, "permission_denied")
    # 404: an unknown id, and a malformed one.
    api.refused(api.call("get_coupon", str(uuid.uuid4())), 404, "not_found")
    api.refused(api.call("get_redemption", "not-a-uuid"), 404, "not_found")
    # 409: a duplicate code, ignoring case; a coupon with redemptions is not deleted.
    duplicate = m.CouponCreateInput(code=f"spring-{run}", init_count=1)
    api.refused(api.call("create_coupon", body=duplicate), 409, "duplicate_code")
    api.refused(api.call("delete_coupon", spring), 409, "has_redemptions")
    # 405, 415 and a malformed body: requests the typed calls cannot make, read by their
    # operation's parser.
    api.refused(api.raw("get_coupon", "PUT", f"/v1/coupons/{spring}/"), 405, "method_not_allowed")
    text = {"content": b"code=X", "headers": {"Content-Type": "text/plain"}}
    as_text = api.raw("create_coupon", "POST", "/v1/coupons/", **text)
    api.refused(as_text, 415, "unsupported_media_type")
    broken = {"content": b"{", "headers": {"Content-Type": "application/json"}}
    api.refused(api.raw("create_coupon", "POST", "/v1/coupons/", **broken), 400, "malformed_json")
    # 413: a file over 1 MiB.
    big = api.package.types.File(payload=io.BytesIO(b"code,init_count\n" + b"x" * 2**20))
    api.refused(api.call("import_coupons", body=big), 413, "payload_too_large")
    # 429: one customer guessing codes past the throttle (THROTTLE_UNKNOWN_CODES_PER_CUSTOMER),
    # then refused even for a code that exists.
    for number in range(api.state["guesses"]):
        guess = m.RedemptionInput(code=f"GUESS-{run}-{number}", customer_id="guesser-2")
        api.refused(api.call("redeem", body=guess, client=api.redeem), 404, "coupon_not_found")
    known = m.ValidationInput(code=f"SPRING-{run}", customer_id="guesser-2")
    throttled = api.call("validate_code", body=known, client=api.redeem)
    api.refused(throttled, 429, "too_many_requests")
    assert int(throttled.headers["Retry-After"]) >= 1
