"""Batches of coupons with random codes: the API's batch, the admin's page, the command."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone

from core.errors import ValidationFailed
from core.workers import in_worker
from coupons.db import raw
from coupons.domain.codes import random_code
from coupons.domain.limits import BATCH_CHUNK_SIZE
from coupons.domain.writable import COUPON_FIELDS, batch_fields, check_names, column_values
from coupons.models import Coupon
from coupons.services.coupons import as_discount, check_campaign_code
from coupons.shapes import COUPON
from events.services.outbox import record_many

BATCH_FIELDS = batch_fields(COUPON_FIELDS)


def generate_coupons(
    *, count: int, prefix: str, length: int, chunk_size: int = BATCH_CHUNK_SIZE, **values: Any
) -> Iterator[list[str]]:
    """Create `count` coupons with fresh random codes, yielding each chunk's codes once
    inserted; `values` are the batch's fields of COUPON_FIELDS (`init_count` required).
    Run it inside a transaction for all-or-none. Memory stays flat in `count`: uniqueness
    is the database's unique index, and a code that collides is drawn again."""
    check_names(BATCH_FIELDS, values, create=True)
    check_campaign_code(values.get("campaign_id"), discount=values.get("discount"))
    now = timezone.now()
    row = column_values(BATCH_FIELDS, {**values, "discount": as_discount(values.get("discount"))})
    row.update(remaining_count=values["init_count"], created_at=now, updated_at=now)
    left = count
    while left > 0:
        wanted = min(chunk_size, left)
        made: list[str] = []
        for attempt in range(30):
            needed = wanted - len(made)
            # A set: no duplicates inside one statement (ON CONFLICT cannot skip those).
            drawn = {
                random_code(prefix, length)
                for _ in range(needed if attempt == 0 else needed * 4 + 32)
            }
            if attempt > 0:
                # Collisions happened: draw more than needed and keep the free ones, so a
                # crowded space still fills in a few round trips. Codes are compared
                # upper-cased, as the unique index compares them.
                taken = set(
                    Coupon.objects.filter(code__upper__in=[c.upper() for c in drawn]).values_list(
                        Upper("code"), flat=True
                    )
                )
                drawn = {c for c in drawn if c.upper() not in taken}
            # The codes and their events commit together (a savepoint when nested).
            with transaction.atomic():
                inserted = raw.insert_new_codes(sorted(drawn)[:needed], row)
                record_many("coupon.created", COUPON, inserted, now=now)
            made.extend(c.code for c in inserted)
            if len(made) == wanted:
                break
        else:
            raise ValidationFailed(
                {"length": ["Too few unused codes of this prefix and length are left."]}
            )
        left -= wanted
        yield made


def create_coupon_batch(*, count: int, prefix: str, length: int, **fields: Any) -> list[str]:
    """`count` new coupons with random codes, all created or none."""
    with transaction.atomic():
        return [
            code
            for chunk in generate_coupons(count=count, prefix=prefix, length=length, **fields)
            for code in chunk
        ]


acreate_coupon_batch = in_worker(create_coupon_batch)
