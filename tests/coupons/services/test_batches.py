"""Batches of random codes (coupons.services.batches): draws again past taken codes, all or
none. No concurrency to prove: Django's rollback `db` fixture."""

import psycopg
import pytest
from django.db import connection, transaction

from core.errors import ValidationFailed
from coupons.domain import limits
from coupons.models import Campaign, Coupon
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


@pytest.mark.postgres
def test_a_campaign_cannot_be_deleted_under_a_batch_of_its_codes(transactional_db):
    # Found by schemathesis: a campaign deleted between a batch's check and its commit
    # failed the codes' deferred foreign key at the commit, a 500. The check now keeps the
    # campaign's row (FOR KEY SHARE) until the batch commits: a delete waits for it.
    campaign = Campaign.objects.create(name="spring")
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
        dbname=settings["NAME"], autocommit=True,
    )  # fmt: skip
    try:
        other.execute("SET lock_timeout = '300ms'")
        with transaction.atomic():
            made = batches.create_coupon_batch(
                count=3, prefix="S", length=6, init_count=1, campaign_id=campaign.id
            )
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM coupons_campaign WHERE id = %s", [campaign.id])
    finally:
        other.close()
    assert Coupon.objects.filter(campaign=campaign).count() == len(made) == 3
