"""Batches of random codes (coupons.services.batches): draws again past taken codes, all or
none. No concurrency to prove: Django's rollback `db` fixture."""

import pytest

from core.errors import ValidationFailed
from coupons.domain import limits
from coupons.models import Coupon
from coupons.services import batches
from coupons.services import coupons as coupon_service


def test_a_batch_draws_again_when_a_code_is_taken(db):
    # A one-character space of 31 codes: 25 taken, so drawing 6 more meets the taken ones
    # almost surely and must draw again until exactly the 6 free codes are made.
    taken = batches.create_coupon_batch(count=25, prefix="Q", length=1, init_count=1)

    more = batches.create_coupon_batch(count=6, prefix="Q", length=1, init_count=1)

    assert not set(more) & set(taken)
    assert sorted(taken + more) == sorted(f"Q{c}" for c in limits.CODE_ALPHABET)


def test_a_batch_that_cannot_be_completed_creates_nothing(db):
    # Three chunks of 10 fit in the 31-code space; the fourth cannot: the whole batch,
    # the 30 codes already inserted included, is rolled back.
    with pytest.raises(ValidationFailed):
        batches.create_coupon_batch(count=40, prefix="Z", length=1, init_count=1, chunk_size=10)

    assert Coupon.objects.count() == 0


def test_a_code_taken_in_another_letter_case_is_not_generated(db):
    coupon_service.create_coupon(code="qa", init_count=1)
    made = batches.create_coupon_batch(count=30, prefix="Q", length=1, init_count=1)
    assert "QA" not in made
    assert len(made) == 30  # every other code of the space
