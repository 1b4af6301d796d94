"""Idempotency-Key on POST /v1/redemptions/ and on revert: one effect, the same answer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.utils import timezone

from access.models import IdempotencyRecord
from access.services import api_keys
from coupons.models import Redemption
from coupons.services import redemptions
from tests.factories import acoupon_state, amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_a_retry_with_the_same_key_replays_the_answer_without_a_second_effect(api, redeem):
    coupon = await amake_coupon("ONCE", init_count=5)
    headers = keyed(redeem, "order-1001-attempt")
    body = {"code": "ONCE", "customer_id": "c-1", "order_id": "o-1001"}

    first = await api.post("/v1/redemptions/", json=body, headers=headers)
    retry = await api.post("/v1/redemptions/", json=body, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content  # byte for byte
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await acoupon_state(coupon.id) == (5, 4, 1)


async def test_the_same_key_with_the_body_in_another_key_order_is_the_same_request(api, redeem):
    coupon = await amake_coupon("ORDER", init_count=5)
    headers = {**keyed(redeem, "k-order"), "Content-Type": "application/json"}

    first = await api.post(
        "/v1/redemptions/", content=b'{"code":"ORDER","order_id":"o-1"}', headers=headers
    )
    retry = await api.post(
        "/v1/redemptions/", content=b'{ "order_id": "o-1", "code": "ORDER" }', headers=headers
    )

    assert retry.content == first.content
    assert await acoupon_state(coupon.id) == (5, 4, 1)


async def test_the_same_key_with_another_body_is_refused_and_changes_nothing(api, redeem):
    coupon = await amake_coupon("REUSE", init_count=5)
    headers = keyed(redeem, "k-reuse")
    await api.post("/v1/redemptions/", json={"code": "REUSE", "order_id": "o-1"}, headers=headers)

    other = await api.post(
        "/v1/redemptions/", json={"code": "REUSE", "order_id": "o-2"}, headers=headers
    )

    assert_problem(other, 422, "idempotency_key_reused")
    assert await acoupon_state(coupon.id) == (5, 4, 1)


async def test_keys_belong_to_one_api_key(api, redeem, transactional_db):
    coupon = await amake_coupon("PERKEY", init_count=5)
    _, other_key = await sync_to_async(api_keys.create_api_key)(name="other", scope="redeem")
    other = {"Authorization": f"Bearer {other_key}"}

    a = await api.post("/v1/redemptions/", json={"code": "PERKEY"}, headers=keyed(redeem, "same"))
    b = await api.post("/v1/redemptions/", json={"code": "PERKEY"}, headers=keyed(other, "same"))

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert await acoupon_state(coupon.id) == (5, 3, 2)


async def test_a_refusal_is_replayed_too_even_after_the_coupon_changes(api, redeem):
    coupon = await amake_coupon("GONE", init_count=1)
    assert (await api.post("/v1/redemptions/", json={"code": "GONE"}, headers=redeem)).is_success
    headers = keyed(redeem, "k-refused")

    refused = await api.post("/v1/redemptions/", json={"code": "GONE"}, headers=headers)
    assert_problem(refused, 409, "coupon_exhausted")
    first_redemption = (await sync_to_async(Redemption.objects.get)()).id
    await sync_to_async(redemptions.revert_redemption)(first_redemption)

    retry = await api.post("/v1/redemptions/", json={"code": "GONE"}, headers=headers)

    assert retry.status_code == 409 and retry.content == refused.content
    assert await acoupon_state(coupon.id) == (1, 1, 0)


async def test_concurrent_identical_retries_have_one_effect_and_one_answer(api, redeem):
    coupon = await amake_coupon("RACE", init_count=100)
    headers = keyed(redeem, "k-concurrent")

    answers = await asyncio.gather(
        *(
            api.post("/v1/redemptions/", json={"code": "RACE", "order_id": "o-9"}, headers=headers)
            for _ in range(20)
        )
    )

    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    assert await acoupon_state(coupon.id) == (100, 99, 1)


async def test_a_revert_retried_with_its_key_is_replayed_not_already_reverted(api, redeem):
    coupon = await amake_coupon("UNDO", init_count=2)
    redemption = (await api.post("/v1/redemptions/", json={"code": "UNDO"}, headers=redeem)).json()
    url = f"/v1/redemptions/{redemption['id']}/revert/"
    headers = keyed(redeem, "revert-1")

    first = await api.post(url, headers=headers)
    retry = await api.post(url, headers=headers)
    unkeyed = await api.post(url, headers=redeem)

    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content
    assert_problem(unkeyed, 409, "already_reverted")
    assert await acoupon_state(coupon.id) == (2, 2, 0)


async def test_concurrent_reverts_give_the_use_back_once(api, redeem):
    coupon = await amake_coupon("UNDO-RACE", init_count=2)
    redemption = (
        await api.post("/v1/redemptions/", json={"code": "UNDO-RACE"}, headers=redeem)
    ).json()
    url = f"/v1/redemptions/{redemption['id']}/revert/"

    answers = await asyncio.gather(*(api.post(url, headers=redeem) for _ in range(10)))

    assert sorted(a.status_code for a in answers) == [200] + [409] * 9
    assert await acoupon_state(coupon.id) == (2, 2, 0)


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
async def test_a_malformed_idempotency_key_is_a_validation_error(api, redeem, key):
    coupon = await amake_coupon("BADKEY", init_count=2)
    response = await api.post(
        "/v1/redemptions/",
        json={"code": "BADKEY"},
        headers={**redeem, "Idempotency-Key": key.encode("utf-8")},
    )
    problem = assert_problem(response, 400, "validation_error")
    assert "Idempotency-Key" in problem["errors"]
    assert await acoupon_state(coupon.id) == (2, 2, 0)


async def test_a_bad_request_is_not_remembered_under_its_key(api, redeem):
    await amake_coupon("LATER", init_count=2)
    headers = keyed(redeem, "k-bad-then-good")

    bad = await api.post("/v1/redemptions/", json={"code": 5}, headers=headers)
    assert_problem(bad, 400, "validation_error")
    good = await api.post("/v1/redemptions/", json={"code": "LATER"}, headers=headers)

    assert good.status_code == 201


async def test_expired_keys_are_purged_and_then_run_afresh(api, redeem):
    coupon = await amake_coupon("PURGE", init_count=5)
    headers = keyed(redeem, "k-old")
    first = await api.post("/v1/redemptions/", json={"code": "PURGE"}, headers=headers)
    await IdempotencyRecord.objects.aupdate(created_at=timezone.now() - timedelta(hours=25))

    await sync_to_async(call_command)("purge_idempotency_keys")

    assert await IdempotencyRecord.objects.acount() == 0
    again = await api.post("/v1/redemptions/", json={"code": "PURGE"}, headers=headers)
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert await acoupon_state(coupon.id) == (5, 3, 2)


async def test_recent_keys_survive_the_purge(api, redeem):
    await amake_coupon("KEEP", init_count=5)
    await api.post("/v1/redemptions/", json={"code": "KEEP"}, headers=keyed(redeem, "k-new"))

    await sync_to_async(call_command)("purge_idempotency_keys")

    assert await IdempotencyRecord.objects.acount() == 1
