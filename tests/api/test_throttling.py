"""Failed lookups of unknown codes are throttled per customer and per API key; known codes never."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings

from config.settings_test import local_port_answers
from tests.factories import amake_coupon
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


@override_settings(UNKNOWN_CODE_LIMIT_PER_CUSTOMER=3, UNKNOWN_CODE_LIMIT_PER_API_KEY=100)
@pytest.mark.parametrize("path", ["/v1/redemptions/", "/v1/validations/"])
async def test_a_customer_guessing_codes_is_slowed_but_known_codes_still_work(
    api, redeem, counter_store, path
):
    await amake_coupon("REAL", init_count=10)
    guess = {"customer_id": "guesser"}

    for attempt in range(3):
        response = await api.post(path, json={"code": f"GUESS{attempt}", **guess}, headers=redeem)
        assert response.status_code in (200, 404), response.text

    throttled = await api.post(path, json={"code": "GUESS9", **guess}, headers=redeem)
    problem = assert_problem(throttled, 429, "too_many_requests")
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert "retry" in problem["detail"].lower()

    # A known code goes through for the same customer; another customer is not slowed.
    known = await api.post(path, json={"code": "real", **guess}, headers=redeem)
    assert known.status_code in (200, 201), known.text
    other = await api.post(path, json={"code": "GUESS0", "customer_id": "x"}, headers=redeem)
    assert other.status_code in (200, 404)


@override_settings(UNKNOWN_CODE_LIMIT_PER_CUSTOMER=100, UNKNOWN_CODE_LIMIT_PER_API_KEY=5)
async def test_an_api_key_guessing_codes_is_slowed_whatever_the_customer(
    api, redeem, manage, counter_store
):
    for attempt in range(5):
        response = await api.post(
            "/v1/redemptions/",
            json={"code": f"G{attempt}", "customer_id": f"c-{attempt}"},
            headers=redeem,
        )
        assert_problem(response, 404, "coupon_not_found")

    throttled = await api.post("/v1/redemptions/", json={"code": "G9"}, headers=redeem)
    assert_problem(throttled, 429, "too_many_requests")
    assert "retry-after" in throttled.headers

    # Another API key has its own budget.
    other = await api.post("/v1/redemptions/", json={"code": "G9"}, headers=manage)
    assert_problem(other, 404, "coupon_not_found")


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
