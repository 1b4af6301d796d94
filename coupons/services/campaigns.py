"""Campaigns: create, read, edit, delete and list them, and turn them on and off."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError, QuerySet
from django.utils import timezone

from core.domain.metadata import merge_metadata
from core.errors import (
    BudgetBelowSpent,
    CountBelowUsed,
    DiscountLocked,
    HasRedemptions,
    NotFound,
    ValidationFailed,
)
from core.pages import Cursor, Page, keyset_page
from core.workers import in_worker
from coupons.db import raw
from coupons.domain.discounts import discount_columns
from coupons.domain.writable import (
    CAMPAIGN_FIELDS,
    Kind,
    check_names,
    column_values,
    editable,
)
from coupons.models import Coupon, Redemption
from coupons.models.campaign import Campaign
from coupons.services.coupons import as_discount
from coupons.services.hold_cleanup import clear_ended_holds
from coupons.services.ledger_events import record_campaign
from coupons.shapes import CAMPAIGN, COUPON
from events.services.outbox import record, record_many

WINDOW_CONSTRAINT = "campaign_window_starts_before_it_expires"
BUDGET_CURRENCY_CONSTRAINT = "campaign_budget_in_the_discount_currency"
BUDGET_CURRENCY_MESSAGE = "Must be the discount's currency."
EDITABLE = frozenset(field.name for field in editable(CAMPAIGN_FIELDS))
# Set as given; a discount, a budget and a metadata patch are decided on the locked row.
_SET_AS_GIVEN = frozenset(
    field.name
    for field in editable(CAMPAIGN_FIELDS)
    if field.kind not in (Kind.DISCOUNT, Kind.BUDGET, Kind.METADATA)
)
_BUDGET = tuple(field for field in CAMPAIGN_FIELDS if field.kind is Kind.BUDGET)


def _with_counts() -> QuerySet[Campaign]:
    return Campaign.objects.annotate(coupon_count=Count("coupons"))


def _integrity_problem(exc: IntegrityError) -> ValidationFailed | None:
    if raw.violates(exc, WINDOW_CONSTRAINT):
        return ValidationFailed({"expires_at": ["Must be after starts_at."]})
    if raw.violates(exc, BUDGET_CURRENCY_CONSTRAINT):
        return ValidationFailed({"budget.currency": [BUDGET_CURRENCY_MESSAGE]})
    return None


def create_campaign(**values: Any) -> Campaign:
    """A campaign with no codes yet and nothing spent; `values` are the fields of
    CAMPAIGN_FIELDS (`name` required). The database's CHECKs back the rules the API
    checks first (a budget in the discount's currency, the window)."""
    check_names(CAMPAIGN_FIELDS, values, create=True)
    columns = column_values(
        CAMPAIGN_FIELDS, {**values, "discount": as_discount(values.get("discount"))}
    )
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(**columns)
            campaign.coupon_count = 0  # type: ignore[attr-defined]
            record("campaign.created", CAMPAIGN, campaign, now=campaign.created_at)
    except IntegrityError as exc:
        problem = _integrity_problem(exc)
        if problem is None:
            raise
        raise problem from exc
    return campaign


def get_campaign(campaign_id: uuid.UUID) -> Campaign:
    campaign = _with_counts().filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(f"No campaign has the id {campaign_id}.")
    return campaign


def update_campaign(campaign_id: uuid.UUID, *, changes: dict[str, Any]) -> Campaign:
    """Apply `changes` (the editable fields, `discount`, `budget` and a `metadata` patch)
    in one transaction, decided on the campaign's row locked FOR UPDATE.

    Redemptions change the counters under the same row lock, so once it is held every
    redemption of the campaign's codes has either committed (its counts and its row are
    seen) or waits to run against what this transaction leaves: a budget is never set
    below the discounts given (`budget_below_spent`), nor `max_redemptions` below the
    live redemptions and holds (`count_below_used`), nor the discount changed once one
    of its codes was redeemed or is held (`discount_locked`). The CHECKs on the row back
    the first two. Changes that leave every value as stored write nothing. Locks only the
    campaign row (lock order: coupons.services.campaign_redemptions).
    """
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    now = timezone.now()
    try:
        with transaction.atomic():
            current = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
            if current is None:
                raise NotFound(f"No campaign has the id {campaign_id}.")
            values = {name: value for name, value in changes.items() if name in _SET_AS_GIVEN}
            values.update(_checked_changes(current, changes))
            # What the row already holds is no change: no UPDATE, no event, updated_at kept.
            values = {name: v for name, v in values.items() if getattr(current, name) != v}
            if values:
                Campaign.objects.filter(pk=campaign_id).update(**values, updated_at=now)
                record_campaign("campaign.updated", campaign_id, now=now)
                if current.budget_remaining != 0 and _budget_left(campaign_id) == 0:
                    # A budget lowered to exactly what was given leaves none either.
                    record_campaign("campaign.budget_exhausted", campaign_id, now=now)
    except IntegrityError as exc:
        problem = _integrity_problem(exc)
        if problem is None:
            raise
        raise problem from exc
    return get_campaign(campaign_id)


def _budget_left(campaign_id: uuid.UUID) -> int | None:
    campaign = Campaign.objects.only("budget_amount", "discount_total").get(pk=campaign_id)
    return campaign.budget_remaining


def _checked_changes(current: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    discount = current.discount
    if "discount" in changes:
        discount = as_discount(changes["discount"])
        if discount != current.discount:
            if Redemption.objects.filter(coupon__campaign_id=current.pk).exists():
                raise DiscountLocked(
                    "A code of the campaign has been redeemed: its discount can no longer "
                    "change (create a new campaign)."
                )
            if current.held_count:
                raise DiscountLocked(
                    "A code of the campaign is held (a hold not yet confirmed, released or "
                    "returned): its discount cannot change while it is held."
                )
            values.update(discount_columns(discount))
    budget = changes.get("budget", current.budget)
    if "budget" in changes:
        if budget is not None and budget["amount"] < current.discount_total:
            raise BudgetBelowSpent(
                f"{current.discount_total} has already been given in discounts; the budget "
                "cannot go below that."
            )
        values.update(column_values(_BUDGET, {"budget": budget}))
    if budget is not None and (discount is None or discount.currency != budget["currency"]):
        raise ValidationFailed({"budget.currency": [BUDGET_CURRENCY_MESSAGE]})
    new_max = changes.get("max_redemptions")
    used = current.redemption_count + current.held_count
    if new_max is not None and new_max < used:
        raise CountBelowUsed(
            f"{used} redemption(s) and hold(s) are live; max_redemptions cannot go below that."
        )
    if "metadata" in changes:
        # MetadataTooLarge (a ValidationFailed) when the result would hold too many keys.
        values["metadata"] = merge_metadata(current.metadata, changes["metadata"])
    return values


def set_campaigns_active(campaign_ids: list[uuid.UUID], *, active: bool) -> int:
    """Turn campaigns on or off in one UPDATE: all their codes stop (or start) at once;
    each with its `campaign.updated`."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Campaign.objects.select_for_update()
            .filter(pk__in=campaign_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Campaign.objects.filter(pk__in=ids).update(is_active=active, updated_at=now)
        for campaign in _with_counts().filter(pk__in=ids).order_by("pk"):
            record("campaign.updated", CAMPAIGN, campaign, now=now)
    return len(ids)


def delete_campaign(campaign_id: uuid.UUID, *, now: datetime | None = None) -> None:
    """Delete a campaign and its codes, if none of them was ever redeemed (nor is held
    now); their holds that ended without a redemption go with them.

    Its holds' rows, then its coupon rows go first, then its own row: the lock order of
    every path (coupons.services.campaign_redemptions), so a delete never deadlocks with a
    redemption."""
    try:
        with transaction.atomic():
            now = now or timezone.now()
            of_campaign = Coupon.objects.filter(campaign_id=campaign_id)
            # Locks their holds, then the codes in id order (the lock order), or refuses
            # while one is live. Their data: each object as it was last. A code committed
            # after this read is not deleted: the campaign's own delete then fails on its
            # foreign key (HasRedemptions below).
            clear_ended_holds(of_campaign, now=now)
            codes = list(of_campaign.order_by("pk"))
            last = _with_counts().filter(pk=campaign_id).first()
            Coupon.objects.filter(pk__in=[c.pk for c in codes]).delete()
            deleted, _ = Campaign.objects.filter(pk=campaign_id).delete()
            if deleted:
                record_many("coupon.deleted", COUPON, codes, now=now)
                record("campaign.deleted", CAMPAIGN, last, now=now)
    except ProtectedError as exc:  # the redemptions' FK is PROTECT
        raise HasRedemptions("A code of the campaign has been redeemed: deactivate it.") from exc
    except IntegrityError as exc:  # a redemption (or a code) committed meanwhile
        raise HasRedemptions("A code of the campaign has been redeemed: deactivate it.") from exc
    if not deleted:
        raise NotFound(f"No campaign has the id {campaign_id}.")


def campaign_page(
    *, cursor: Cursor | None, size: int, is_active: bool | None = None
) -> Page[Campaign]:
    """Campaigns newest first, by keyset on (created_at, id)."""
    queryset = _with_counts()
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    return keyset_page(queryset, moment="created_at", cursor=cursor, size=size)


def campaign_exists(campaign_id: uuid.UUID) -> bool:
    return Campaign.objects.filter(pk=campaign_id).exists()


acreate_campaign = in_worker(create_campaign)
aget_campaign = in_worker(get_campaign)
aupdate_campaign = in_worker(update_campaign)
adelete_campaign = in_worker(delete_campaign)
acampaign_page = in_worker(campaign_page)
