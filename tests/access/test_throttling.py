"""Code guessing is throttled per customer and per API key, and the throttle answers nothing:
past a customer's limit every lookup by that customer is 429, known codes too; past the
key's limit unknown codes are 429 (logged, counted) while its other customers carry on."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings

from config.settings_test import local_port_answers
from tests.factories import acoupon_state, amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/15",
        "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex[:8]}",
    }
}
LOCAL = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PATHS = ["/v1/redemptions/", "/v1/validations/"]


@pytest.fixture(
    params=[
        "local",
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(
                not local_port_answers(6379), reason="no Redis on 127.0.0.1:6379"
            ),
        ),
    ]
)
def counter_store(request):
    with override_settings(CACHES=REDIS if request.param == "redis" else LOCAL):
        cache.clear()
        yield request.param
        if request.param == "redis":  # the counters really went to Redis
            import redis

            prefix = REDIS["default"]["KEY_PREFIX"]
            assert redis.Redis(db=15).keys(f"{prefix}:*unknown-code*")
        cache.clear()


def looked_up(response) -> bool:
    """The answer says whether the code exists (anything but a 429)."""
    return response.status_code in (200, 201, 404)


@override_settings(UNKNOWN_CODE_LIMIT_PER_CUSTOMER=3, UNKNOWN_CODE_LIMIT_PER_API_KEY=100)
@pytest.mark.parametrize("path", PATHS)
async def test_a_customer_past_its_limit_gets_429_for_every_code_known_ones_too(
    api, redeem, counter_store, path
):
    coupon = await amake_coupon("REAL", init_count=10)
    guesser = {"customer_id": "guesser"}
    for attempt in range(3):
        response = await api.post(path, json={"code": f"GUESS{attempt}", **guesser}, headers=redeem)
        assert looked_up(response), response.text

    for code in ("GUESS9", "REAL", "real"):
        throttled = await api.post(path, json={"code": code, **guesser}, headers=redeem)
        problem = assert_problem(throttled, 429, "too_many_requests")
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        assert "retry" in problem["detail"].lower()
    assert await acoupon_state(coupon.id) == (10, 10, 0)  # the 429 spent nothing

    # Other customers of the key, and the key's anonymous lookups, are not slowed.
    other = await api.post(path, json={"code": "REAL", "customer_id": "shopper"}, headers=redeem)
    assert other.status_code in (200, 201), other.text
    anonymous = await api.post(path, json={"code": "REAL"}, headers=redeem)
    assert anonymous.status_code in (200, 201), anonymous.text


@override_settings(
    UNKNOWN_CODE_LIMIT_PER_CUSTOMER=2,
    UNKNOWN_CODE_LIMIT_PER_API_KEY=100,
    UNKNOWN_CODE_WINDOW_SECONDS=1,
)
async def test_a_throttled_customer_is_answered_again_once_its_window_has_passed(
    api, redeem, counter_store
):
    await amake_coupon("LATER", init_count=10)
    guesser = {"customer_id": "guesser"}
    await asyncio.sleep(0.05)
    for attempt in range(2):
        await api.post("/v1/validations/", json={"code": f"G{attempt}", **guesser}, headers=redeem)
    refused = await api.post("/v1/validations/", json={"code": "LATER", **guesser}, headers=redeem)
    if refused.status_code == 429:  # not when the second just turned over
        await asyncio.sleep(float(refused.headers["retry-after"]) + 0.05)

    answered = await api.post("/v1/validations/", json={"code": "LATER", **guesser}, headers=redeem)
    assert answered.json()["valid"] is True


@override_settings(UNKNOWN_CODE_LIMIT_PER_CUSTOMER=2, UNKNOWN_CODE_LIMIT_PER_API_KEY=100)
@pytest.mark.parametrize("path", PATHS)
async def test_lookups_without_a_customer_id_are_one_anonymous_customer(
    api, redeem, counter_store, path
):
    await amake_coupon("ANON", init_count=10)
    for attempt in range(2):
        assert looked_up(await api.post(path, json={"code": f"NO{attempt}"}, headers=redeem))

    assert_problem(
        await api.post(path, json={"code": "ANON"}, headers=redeem), 429, "too_many_requests"
    )
    named = await api.post(path, json={"code": "ANON", "customer_id": "c-1"}, headers=redeem)
    assert named.status_code in (200, 201), named.text


@override_settings(
    UNKNOWN_CODE_LIMIT_PER_CUSTOMER=100, UNKNOWN_CODE_LIMIT_PER_API_KEY=5, METRICS_TOKEN="m"
)
@pytest.mark.parametrize("path", PATHS)
async def test_an_api_key_past_its_limit_gets_429_for_unknown_codes_only(
    api, redeem, manage, counter_store, caplog, path
):
    await amake_coupon("SHOP", init_count=100)
    for attempt in range(5):
        response = await api.post(
            path, json={"code": f"G{attempt}", "customer_id": f"c-{attempt}"}, headers=redeem
        )
        assert looked_up(response), response.text
    before = await throttled_count(api, "api_key")

    with caplog.at_level(logging.WARNING, logger="access.api.throttling"):
        throttled = await api.post(path, json={"code": "G9", "customer_id": "c-9"}, headers=redeem)
    assert_problem(throttled, 429, "too_many_requests")
    assert "retry-after" in throttled.headers
    assert [r.levelname for r in caplog.records if r.name == "access.api.throttling"] == ["WARNING"]
    assert await throttled_count(api, "api_key") == before + 1

    # Known codes keep working for the key's customers (one abuser must not stop a checkout),
    # and another API key has its own budget.
    known = await api.post(path, json={"code": "SHOP", "customer_id": "c-9"}, headers=redeem)
    assert known.status_code in (200, 201), known.text
    other_key = await api.post(path, json={"code": "G9"}, headers=manage)
    assert looked_up(other_key), other_key.text


async def throttled_count(api, limit: str) -> float:
    text = (await api.get("/metrics", headers={"Authorization": "Bearer m"})).text
    found = re.search(rf'coupon_throttled_lookups_total\{{limit="{limit}"\}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


@override_settings(UNKNOWN_CODE_LIMIT_PER_CUSTOMER=1, UNKNOWN_CODE_LIMIT_PER_API_KEY=1)
async def test_a_throttled_request_with_an_idempotency_key_is_not_remembered(
    api, redeem, counter_store
):
    await api.post("/v1/redemptions/", json={"code": "NOPE"}, headers=redeem)
    headers = {**redeem, "Idempotency-Key": "k-throttled"}

    throttled = await api.post("/v1/redemptions/", json={"code": "NOPE"}, headers=headers)
    assert_problem(throttled, 429, "too_many_requests")
    cache.clear()  # the window passes
    later = await api.post("/v1/redemptions/", json={"code": "NOPE"}, headers=headers)

    assert_problem(later, 404, "coupon_not_found")


@override_settings(UNKNOWN_CODE_LIMIT_PER_CUSTOMER=1, UNKNOWN_CODE_LIMIT_PER_API_KEY=100)
async def test_a_completed_redemption_is_replayed_to_a_customer_throttled_since(
    api, redeem, counter_store
):
    await amake_coupon("DONE", init_count=5)
    headers = {**redeem, "Idempotency-Key": "k-done"}
    body = {"code": "DONE", "customer_id": "c-1"}
    first = await api.post("/v1/redemptions/", json=body, headers=headers)
    await api.post("/v1/redemptions/", json={"code": "NOPE", "customer_id": "c-1"}, headers=redeem)

    retry = await api.post("/v1/redemptions/", json=body, headers=headers)

    assert retry.status_code == 201 and retry.json() == first.json()  # a replay, not a lookup
