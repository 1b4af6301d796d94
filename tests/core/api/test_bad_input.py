"""Bad input of every kind is a 4xx problem+json, never a 5xx, and changes nothing."""

from __future__ import annotations

import pytest

from coupons.models import Coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

ONE_MIB = 1024 * 1024


async def nothing_was_created() -> bool:
    return not await Coupon.objects.aexists()


@pytest.mark.parametrize(
    "raw", [b"{bad", b'{"code": "A",}', b"\xff\xfe", b"NaN", b'{"code": NaN}', b"{"]
)
async def test_malformed_json_is_400_malformed_json(api, manage, raw):
    response = await api.post(
        "/v1/coupons/", content=raw, headers={**manage, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")
    assert await nothing_was_created()


@pytest.mark.parametrize("raw", [b"[]", b'["code"]', b"42", b'"PIOTR"', b"null", b"true"])
async def test_json_that_is_not_an_object_is_400_validation_error(api, manage, raw):
    response = await api.post(
        "/v1/coupons/", content=raw, headers={**manage, "Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"]
    assert await nothing_was_created()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_a_body_that_is_not_json_is_415(api, manage, content_type):
    headers = dict(manage)
    if content_type:
        headers["Content-Type"] = content_type
    response = await api.post(
        "/v1/coupons/", content=b'{"code": "A", "init_count": 1}', headers=headers
    )
    assert_problem(response, 415, "unsupported_media_type")
    assert await nothing_was_created()


async def test_a_json_content_type_with_charset_is_accepted(api, manage):
    response = await api.post(
        "/v1/coupons/",
        content=b'{"code": "A", "init_count": 1}',
        headers={**manage, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


async def test_a_body_over_one_mib_is_413(api, manage):
    body = b'{"code": "A", "init_count": 1, "pad": "' + b"x" * ONE_MIB + b'"}'
    response = await api.post(
        "/v1/coupons/", content=body, headers={**manage, "Content-Type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")
    assert await nothing_was_created()


async def test_a_chunked_body_over_one_mib_is_413(api, manage):
    async def chunks():
        yield b'{"code": "A", "init_count": 1, "pad": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = await api.post(
        "/v1/coupons/", content=chunks(), headers={**manage, "Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")
    assert await nothing_was_created()


async def test_a_chunked_body_under_the_limit_is_read_whole(api, manage):
    async def chunks():
        yield b'{"code": "CHUNKED", '
        yield b'"init_count": 3}'

    response = await api.post(
        "/v1/coupons/", content=chunks(), headers={**manage, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["code"] == "CHUNKED"


async def test_a_body_just_under_one_mib_is_not_refused_for_size(api, manage):
    # Padded with whitespace, which JSON allows anywhere between tokens.
    prefix, suffix = b'{"code": "BIG", "init_count": 1', b"}"
    body = prefix + b" " * (ONE_MIB - len(prefix) - len(suffix)) + suffix
    assert len(body) == ONE_MIB
    response = await api.post(
        "/v1/coupons/", content=body, headers={**manage, "Content-Type": "application/json"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/v1/",
        "/v1/nope/",
        "/v1/coupons/x/y/",
        "/v2/coupons/",
        "/v1/coupons",
        "/favicon.ico",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_an_unknown_route_is_404_problem(api, manage, path, method):
    response = await api.request(method, path, headers=manage)
    assert_problem(response, 404, "not_found")


async def test_a_path_without_its_slash_says_which_path_was_meant(api, manage):
    response = await api.post("/v1/coupons", json={"code": "A", "init_count": 1}, headers=manage)
    problem = assert_problem(response, 404, "not_found")
    assert "/v1/coupons/" in problem["detail"]
    assert await nothing_was_created()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_a_wrong_method_is_405_problem_with_allow(api, manage, method):
    response = await api.request(method, "/v1/coupons/", headers=manage)
    problem = assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]
    assert method in problem["detail"]


async def test_an_unacceptable_accept_header_still_gets_json(api, manage):
    response = await api.post(
        "/v1/coupons/",
        json={"code": "ACC", "init_count": 1},
        headers={**manage, "Accept": "text/html"},
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"


async def test_a_disallowed_host_is_400_problem(api, manage):
    response = await api.get("/healthz", headers={"Host": "evil.example"})
    assert_problem(response, 400, "bad_request")
    # With the security headers of every other answer (both with API_FAST_PATHS on and off).
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": "X", "\\ud800": 1}',
        b'{"code": "X", "extra": "\\udc00"}',
        b'{"code": "X", "extra": ["\\uDBFF"]}',
    ],
)
async def test_an_unpaired_surrogate_anywhere_in_the_body_is_malformed_json(api, manage, body):
    # Found by schemathesis: with an Idempotency-Key the body is hashed, and a lone
    # surrogate cannot be encoded, which was a 500.
    response = await api.post(
        "/v1/redemptions/",
        content=body,
        headers={**manage, "Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )
    assert_problem(response, 400, "malformed_json")


async def test_a_paired_surrogate_escape_is_just_a_character(api, manage):
    response = await api.post(
        "/v1/redemptions/",
        content=b'{"code": "X", "customer_id": "\\ud83d\\ude00"}',
        headers={**manage, "Content-Type": "application/json", "Idempotency-Key": "k-2"},
    )
    assert_problem(response, 404, "coupon_not_found")


async def test_a_mistyped_field_on_create_is_400_naming_it_and_creates_nothing(api, manage):
    body = {"code": "TYPO", "init_count": 5, "per_customer_limt": 1}
    response = await api.post("/v1/coupons/", json=body, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"] == {"per_customer_limt": ["Unknown field."]}
    assert await nothing_was_created()


async def test_remaining_count_on_create_is_still_ignored_as_the_contract_says(api, manage):
    body = {"code": "IGNORED", "init_count": 5, "remaining_count": 1}
    response = await api.post("/v1/coupons/", json=body, headers=manage)

    assert response.status_code == 201
    assert response.json()["remaining_count"] == 5


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/coupons/batch/", {"count": 1, "init_count": 1, "length": 8, "colour": "red"}),
        ("/v1/redemptions/", {"code": "ANY", "coupon": "ANY"}),
        ("/v1/validations/", {"code": "ANY", "order_total": 10}),
    ],
)
async def test_every_request_body_refuses_fields_it_does_not_know(api, manage, path, body):
    response = await api.post(path, json=body, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert set(problem["errors"]) == set(body) - {"count", "init_count", "length", "code"}
    assert await nothing_was_created()


async def test_a_revert_with_a_body_field_is_400_and_gives_nothing_back(api, manage):
    await api.post("/v1/coupons/", json={"code": "BACK", "init_count": 2}, headers=manage)
    redeemed = await api.post("/v1/redemptions/", json={"code": "BACK"}, headers=manage)
    redemption_id = redeemed.json()["id"]

    response = await api.post(
        f"/v1/redemptions/{redemption_id}/revert/", json={"reason": "x"}, headers=manage
    )

    assert_problem(response, 400, "validation_error")
    again = await api.get(f"/v1/redemptions/{redemption_id}/", headers=manage)
    assert again.json()["reverted_at"] is None
