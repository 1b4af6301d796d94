"""coupons.services.imports with the API's row reader: chunk boundaries, repeats across
chunks, all or none."""

from __future__ import annotations

import io

import pytest

from core.errors import ValidationFailed
from coupons.api.import_views import import_rows
from coupons.models import Coupon
from coupons.services.imports import REPEATED, TAKEN, import_coupons
from tests.factories import make_coupon

pytestmark = pytest.mark.django_db


def rows(text: str):
    return import_rows(io.StringIO(text, newline=""))


def test_repeats_are_found_within_a_chunk_and_across_chunks():
    make_coupon("OLD")
    body = "code,init_count\nA,1\nB,1\na,1\nC,1\nold,1\nA,1\nD,1\n"

    with pytest.raises(ValidationFailed) as caught:
        import_coupons(rows(body), chunk_size=2)

    assert caught.value.errors == {
        "4.code": [REPEATED], "6.code": [TAKEN], "7.code": [REPEATED],
    }  # fmt: skip
    assert list(Coupon.objects.values_list("code", flat=True)) == ["OLD"]


def test_chunks_report_their_progress_and_all_rows_land():
    body = "code,init_count\n" + "".join(f"R-{n},{n + 1}\n" for n in range(25))
    done: list[int] = []

    created = import_coupons(rows(body), chunk_size=10, on_chunk=done.append)

    assert created == 25 and done == [10, 10, 5]
    assert Coupon.objects.get(code="R-24").remaining_count == 25


def test_a_bad_row_after_many_chunks_leaves_nothing():
    body = "code,init_count\n" + "".join(f"R-{n},1\n" for n in range(50)) + "R-X,0\n"

    with pytest.raises(ValidationFailed) as caught:
        import_coupons(rows(body), chunk_size=10)

    assert list(caught.value.errors) == ["52.init_count"]
    assert not Coupon.objects.exists()


def test_an_error_limit_keeps_the_first_errors_and_counts_all():
    body = "code,init_count\n" + "".join(f"R-{n},0\n" for n in range(30))

    with pytest.raises(ValidationFailed) as caught:
        import_coupons(rows(body), error_limit=5)

    assert len(caught.value.errors) == 5
    assert "30 error(s) (5 shown)" in caught.value.detail


def test_a_quoted_cell_over_two_lines_is_numbered_from_its_first():
    body = 'code,init_count\n"MULTI\nLINE",1\nNEXT,x\n'

    with pytest.raises(ValidationFailed) as caught:
        import_coupons(rows(body))

    assert set(caught.value.errors) == {"2.code", "4.init_count"}
