"""Imports of codes a shop already has: rows already read and checked field by field (by
the API's rules, coupons.api.import_views), inserted in chunks of one multi-row INSERT each,
all or none; a code already taken or repeated in the file is refused by its line."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone

from core.errors import ValidationFailed
from core.workers import in_worker
from coupons.db import raw
from coupons.domain.discounts import discount_columns
from coupons.domain.limits import BATCH_CHUNK_SIZE
from coupons.models import Coupon
from coupons.services.coupons import check_campaign_code
from coupons.shapes import COUPON
from events.services.outbox import record_many

TAKEN = "A coupon with this code already exists (codes are unique ignoring case)."
REPEATED = "Repeated: an earlier line of this file has this code (ignoring case)."


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One line of an import: the coupon's checked fields, or what is wrong by column."""

    line: int
    fields: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


class _Errors:
    """Errors keyed "<line>.<column>", at most `limit` of them kept (all are counted)."""

    def __init__(self, limit: int | None) -> None:
        self.found: dict[str, list[str]] = {}
        self.count = 0
        self.limit = limit

    def add(self, line: int, column: str, messages: list[str]) -> None:
        self.count += 1
        if self.limit is None or len(self.found) < self.limit:
            self.found.setdefault(f"{line}.{column}", []).extend(messages)


def import_coupons(
    rows: Iterable[ImportRow],
    *,
    campaign_id: uuid.UUID | None = None,
    chunk_size: int = BATCH_CHUNK_SIZE,
    on_chunk: Callable[[int], object] | None = None,
    error_limit: int | None = None,
) -> int:
    """Create one coupon per row, all or none (one transaction), and return how many.

    Rows are read as they come and inserted a chunk at a time, so memory stays flat in the
    number of rows; the unique index, not a set in memory, finds codes already taken or
    repeated. Every bad row is reported (up to `error_limit`) in one ValidationFailed keyed
    "<line>.<column>", after which nothing is left written."""
    check_campaign_code(campaign_id, discount=None)
    now = timezone.now()
    errors = _Errors(error_limit)
    created = 0
    with transaction.atomic():
        chunk: list[ImportRow] = []
        for row in rows:
            for column, messages in row.errors.items():
                errors.add(row.line, column, messages)
            if row.errors:
                continue
            chunk.append(row)
            if len(chunk) == chunk_size:
                created += _insert_chunk(chunk, campaign_id=campaign_id, now=now, errors=errors)
                if on_chunk is not None:
                    on_chunk(len(chunk))
                chunk = []
        created += _insert_chunk(chunk, campaign_id=campaign_id, now=now, errors=errors)
        if on_chunk is not None and chunk:
            on_chunk(len(chunk))
        if errors.count:
            shown = "" if len(errors.found) == errors.count else f" ({len(errors.found)} shown)"
            raise ValidationFailed(
                errors.found,
                f"Nothing was imported: {errors.count} error(s){shown}. Fix the lines named "
                "and send the whole file again.",
            )
    return created


def _insert_chunk(
    chunk: list[ImportRow], *, campaign_id: uuid.UUID | None, now: datetime, errors: _Errors
) -> int:
    if not chunk:
        return 0
    common = {"is_active": True, "starts_at": None, "expires_at": None,
              "per_customer_limit": None, "metadata": {}, **discount_columns(None),
              "campaign_id": campaign_id, "created_at": now, "updated_at": now}  # fmt: skip
    inserted = raw.insert_coupon_rows(
        [{**common, **row.fields, "remaining_count": row.fields["init_count"]} for row in chunk]
    )
    # The events of the codes, in the import's transaction (so with its all or none).
    record_many("coupon.created", COUPON, inserted, now=now)
    if len(inserted) == len(chunk):
        return len(inserted)
    # Which rows the index skipped: each inserted code names the first row that has it.
    first_rows = {coupon.code.upper(): coupon.code for coupon in inserted}
    skipped: list[ImportRow] = []
    for row in chunk:
        key = row.fields["code"].upper()
        if first_rows.get(key) == row.fields["code"]:
            del first_rows[key]
        else:
            skipped.append(row)
    # Taken by this import (an earlier line) or before it: this import's rows carry `now`.
    ours = set(
        Coupon.objects.filter(
            code__upper__in=[row.fields["code"].upper() for row in skipped], created_at=now
        ).values_list(Upper("code"), flat=True)
    )
    for row in skipped:
        repeated = row.fields["code"].upper() in ours
        errors.add(row.line, "code", [REPEATED if repeated else TAKEN])
    return len(inserted)


aimport_coupons = in_worker(import_coupons)
