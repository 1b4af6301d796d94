"""Codes are ASCII: created only from the code alphabet (no final newline), and looked up
ignoring ASCII case only, so no Unicode case mapping turns a typed string into a code."""

from __future__ import annotations

import pytest

from tests.factories import amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

# A typed string, and the coupon that Unicode case mapping (str.upper(), PostgreSQL's UPPER)
# would have matched it with.
LOOKALIKES = [
    ("stra\u00dfe", "STRASSE"),  # sharp s -> SS
    ("\ufb00-1", "FF-1"),  # the ff ligature -> FF
    ("\u0131d-1", "ID-1"),  # dotless i -> I
    ("\u017fale", "SALE"),  # long s -> S
    ("\u212aey", "KEY"),  # Kelvin sign, whose lower case is k
    ("\uff30\uff29\uff2f\uff34\uff32", "PIOTR"),  # full-width letters
]


@pytest.mark.parametrize(("typed", "code"), LOOKALIKES)
async def test_a_string_outside_the_code_alphabet_redeems_nothing(api, redeem, typed, code):
    await amake_coupon(code, init_count=5)

    response = await api.post("/v1/redemptions/", json={"code": typed}, headers=redeem)

    assert_problem(response, 404, "coupon_not_found")


@pytest.mark.parametrize(("typed", "code"), LOOKALIKES)
async def test_a_string_outside_the_code_alphabet_validates_as_not_found(api, redeem, typed, code):
    await amake_coupon(code, init_count=5)

    response = await api.post("/v1/validations/", json={"code": typed}, headers=redeem)

    assert response.status_code == 200
    answer = response.json()
    assert (answer["valid"], answer["reason"], answer["remaining_count"]) == (
        False, "coupon_not_found", None,
    )  # fmt: skip


@pytest.mark.parametrize(("typed", "code"), LOOKALIKES)
async def test_list_filters_outside_the_code_alphabet_match_nothing(
    api, manage, redeem, typed, code
):
    await amake_coupon(code, init_count=5)
    assert (await api.post("/v1/redemptions/", json={"code": code}, headers=redeem)).is_success

    up_to_the_odd_one = typed[: next(i for i, ch in enumerate(typed) if not ch.isascii()) + 1]
    for path, name, value in [
        ("/v1/coupons/", "code", typed),
        ("/v1/coupons/", "code_prefix", typed),
        ("/v1/coupons/", "code_prefix", up_to_the_odd_one),
        ("/v1/redemptions/", "code", typed),
    ]:
        response = await api.get(path, params={name: value}, headers=manage)
        assert response.status_code == 200, response.text
        assert response.json()["results"] == [], (path, name, value)


async def test_ascii_case_is_still_ignored_everywhere(api, manage, redeem):
    await amake_coupon("Piotr-Ab", init_count=5)

    assert (
        await api.post("/v1/redemptions/", json={"code": "pIOTR-aB"}, headers=redeem)
    ).is_success
    valid = await api.post("/v1/validations/", json={"code": "PIOTR-AB"}, headers=redeem)
    assert valid.json()["valid"] is True
    for name, value in [("code", "piotr-ab"), ("code_prefix", "pio")]:
        page = await api.get("/v1/coupons/", params={name: value}, headers=manage)
        assert [c["code"] for c in page.json()["results"]] == ["Piotr-Ab"]
    page = await api.get("/v1/redemptions/", params={"code": "PIOTR-ab"}, headers=manage)
    assert len(page.json()["results"]) == 1


@pytest.mark.parametrize("code", ["NEWLINE\n", "NEWLINE\r\n", "NEW\nLINE", "\nNEWLINE", "TAB\t"])
async def test_a_code_with_a_line_break_or_tab_is_refused_on_create(api, manage, code):
    response = await api.post("/v1/coupons/", json={"code": code, "init_count": 1}, headers=manage)
    problem = assert_problem(response, 400, "validation_error")
    assert "code" in problem["errors"]


@pytest.mark.parametrize("prefix", ["NL\n", "NL\r\n", "N\nL-"])
async def test_a_batch_prefix_with_a_line_break_is_refused(api, manage, prefix):
    response = await api.post(
        "/v1/coupons/batch/",
        json={"count": 2, "init_count": 1, "prefix": prefix, "length": 8},
        headers=manage,
    )
    problem = assert_problem(response, 400, "validation_error")
    assert "prefix" in problem["errors"]
