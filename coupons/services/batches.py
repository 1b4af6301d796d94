"""Batches of coupons with random codes: the API's batch, the admin's page, the command."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone

from core.errors import ValidationFailed
from core.workers import in_worker
from coupons.db import raw
from coupons.domain.codes import random_code
from coupons.domain.discounts import Discount, discount_columns
from coupons.domain.limits import BATCH_CHUNK_SIZE
from coupons.models import Coupon
from coupons.services.coupons import as_discount, check_campaign_code
from coupons.shapes import COUPON
from events.services.outbox import record_many


def generate_coupons(
    *,
    count: int,
    prefix: str,
    length: int,
    init_count: int,
    is_active: bool = True,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    per_customer_limit: int | None = None,
    discount: Discount | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    campaign_id: uuid.UUID | None = None,
    chunk_size: int = BATCH_CHUNK_SIZE,
) -> Iterator[list[str]]:
    """Create `count` coupons with fresh random codes, yielding each chunk's codes once
    inserted. Run it inside a transaction for all-or-none. Memory stays flat in `count`:
    uniqueness is the database's unique index, and a code that collides is drawn again."""
    check_campaign_code(campaign_id, discount=discount)
    now = timezone.now()
    row = {
        "init_count": init_count, "remaining_count": init_count, "is_active": is_active,
        "starts_at": starts_at, "expires_at": expires_at,
        "per_customer_limit": per_customer_limit, "created_at": now, "updated_at": now,
        "metadata": metadata or {}, "campaign_id": campaign_id,
        **discount_columns(as_discount(discount)),
    }  # fmt: skip
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
