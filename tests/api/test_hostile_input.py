"""Input an attacker or a careless client sends (issue 13): Unicode digits, tampered cursors,
deep JSON, floods of parameters. Each is a 4xx problem or a correct answer, never a 5xx."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

LISTS = ["/v1/coupons/", "/v1/redemptions/", "/v1/coupons/{coupon_id}/redemptions/"]

# Digits that str.isdigit() or int() accept and that are not ASCII: superscript two,
# Arabic-Indic three, full-width three, Devanagari three.
UNICODE_DIGITS = ["\u00b2", "\u0663", "\uff13", "\u0969"]


async def list_paths() -> list[str]:
    coupon = await amake_coupon()
    return [path.format(coupon_id=coupon.id) for path in LISTS]


@pytest.mark.parametrize(
    "page_size",
    [*UNICODE_DIGITS, "1²", "9" * 5000, "0", "501", "-1", "+5", " 5", "5 ", "1_0", "5.0", ""],
)
async def test_a_page_size_of_anything_but_ascii_digits_in_range_is_400(api, manage, page_size):
    for path in await list_paths():
        response = await api.get(path, params={"page_size": page_size}, headers=manage)
        problem = assert_problem(response, 400, "validation_error")
        assert "page_size" in problem["errors"]


async def test_a_page_size_in_ascii_digits_is_read(api, manage):
    for path in await list_paths():
        response = await api.get(path, params={"page_size": "007"}, headers=manage)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
async def test_a_coupon_id_filter_spelled_in_unicode_digits_is_400(api, manage, digit):
    spelled = str(uuid.UUID(int=3)).replace("3", digit)
    response = await api.get("/v1/redemptions/", params={"coupon_id": spelled}, headers=manage)
    problem = assert_problem(response, 400, "validation_error")
    assert "coupon_id" in problem["errors"]
