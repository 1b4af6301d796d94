"""The redemptions export: a coupon's or a campaign's redemptions as CSV, oldest first, a
keyset chunk at a time (the API's stream and the admin's download)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Q

from core.errors import NotFound, ValidationFailed
from core.shaping import rfc3339
from core.workers import in_worker
from coupons.models import Campaign, Coupon, Redemption

# The redemptions export: one CSV line per redemption, oldest first (contract, third part).
EXPORT_HEADER = ["id", "code", "customer_id", "order_id", "redeemed_at", "reverted_at",
                 "order_amount", "currency", "discount_amount"]  # fmt: skip
EXPORT_CHUNK = 2_000
ExportCursor = tuple[datetime, uuid.UUID]


def redemption_export_chunk(
    *,
    coupon_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    after: ExportCursor | None = None,
    size: int | None = None,
) -> list[tuple[Any, ...]]:
    """The next `size` redemptions of a coupon (or of a campaign's codes) after `after`,
    oldest first, by keyset on (redeemed_at, id): stable while redemptions are added. The
    first chunk (no `after`) is NotFound for an unknown coupon or campaign."""
    if (coupon_id is None) == (campaign_id is None):
        raise ValidationFailed({"coupon_id": ["Give coupon_id or campaign_id (one of them)."]})
    redemptions = Redemption.objects.all()
    if coupon_id is not None:
        redemptions = redemptions.filter(coupon_id=coupon_id)
        owner: Any = Coupon.objects.filter(pk=coupon_id)
    elif campaign_id is not None:
        redemptions = redemptions.filter(coupon__campaign_id=campaign_id)
        owner = Campaign.objects.filter(pk=campaign_id)
    if after is None and not owner.exists():
        what = "coupon" if coupon_id is not None else "campaign"
        raise NotFound(f"No {what} has the id {coupon_id or campaign_id}.")
    if after is not None:
        moment, last_id = after
        redemptions = redemptions.filter(
            Q(redeemed_at__gt=moment) | Q(redeemed_at=moment, id__gt=last_id)
        )
    return list(
        redemptions.order_by("redeemed_at", "id").values_list(
            "id", "coupon__code", "customer_id", "order_id", "redeemed_at", "reverted_at",
            "order_amount", "currency", "discount_amount",
        )[: size or EXPORT_CHUNK]
    )  # fmt: skip


aredemption_export_chunk = in_worker(redemption_export_chunk)


def _csv_text(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([rfc3339(v) if isinstance(v, datetime) else v for v in row])
    return out.getvalue()


async def aredemption_csv(
    *, coupon_id: uuid.UUID | None = None, campaign_id: uuid.UUID | None = None
) -> AsyncIterator[str]:
    """The export as CSV text, a chunk (one query, one worker hop) at a time; awaited
    once before it is streamed, so that an unknown coupon is a 404, not a broken stream."""
    chunk = await aredemption_export_chunk(coupon_id=coupon_id, campaign_id=campaign_id)

    async def lines() -> AsyncIterator[str]:
        nonlocal chunk
        yield _csv_text([EXPORT_HEADER])
        while chunk:
            yield _csv_text(chunk)
            if len(chunk) < EXPORT_CHUNK:
                return
            last = chunk[-1]
            chunk = await aredemption_export_chunk(
                coupon_id=coupon_id, campaign_id=campaign_id, after=(last[4], last[0])
            )

    return lines()
