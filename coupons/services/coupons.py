"""Coupons: create, read, edit, delete and list them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from core.domain.metadata import merge_metadata
from core.errors import (
    CountBelowUsed,
    DiscountLocked,
    DuplicateCode,
    HasRedemptions,
    NotFound,
    ValidationFailed,
)
from core.pages import Cursor, Page, keyset_page
from core.workers import in_worker
from coupons.db import raw
from coupons.db.campaign_sql import campaign_kept
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Discount, InvalidDiscount, discount_columns
from coupons.domain.writable import (
    COUPON_FIELDS,
    Kind,
    check_names,
    column_values,
    editable,
)
from coupons.models import Coupon, Redemption, Reservation, ReservationStatus
from coupons.services.hold_cleanup import clear_ended_holds
from coupons.services.ledger_events import record_coupon
from coupons.shapes import COUPON
from events.services.outbox import record

HELD = ReservationStatus.HELD

NO_SUCH_CAMPAIGN = "No campaign has this id."
CODE_UNIQUE_CONSTRAINT = "coupon_code_unique_ignoring_case"
WINDOW_CONSTRAINT = "coupon_window_starts_before_it_expires"
_EDITABLE = frozenset(field.name for field in editable(COUPON_FIELDS))
# Set as given; a discount and a metadata patch are decided on the locked row.
_SET_AS_GIVEN = frozenset(
    field.name
    for field in editable(COUPON_FIELDS)
    if field.kind not in (Kind.DISCOUNT, Kind.METADATA)
)
HELD_DISCOUNT_LOCKED = (
    "The coupon is held (a hold not yet confirmed, released or returned): its discount "
    "cannot change while it is held."
)


def create_coupon(**values: Any) -> Coupon:
    """Insert a coupon with all its uses left; `values` are the fields of COUPON_FIELDS
    (`code` and `init_count` required). The unique index, not a prior SELECT, decides a
    duplicate, so two concurrent creates of one code cannot both succeed."""
    check_names(COUPON_FIELDS, values, create=True)
    code, campaign_id = values["code"], values.get("campaign_id")
    check_campaign_code(campaign_id, discount=values.get("discount"))
    discount = as_discount(values.get("discount"))
    fields = column_values(COUPON_FIELDS, {**values, "discount": discount})
    fields["remaining_count"] = values["init_count"]
    try:
        if raw.is_postgres() and not connection.in_atomic_block:
            # The API's create: the coupon and its event in one statement.
            return raw.insert_coupon_and_event(fields, event_type="coupon.created", encode=COUPON)
        # The coupon and its event commit together (a savepoint when nested, so that a
        # duplicate does not break the caller's transaction).
        with transaction.atomic():
            coupon = raw.insert_coupon(fields)
            record("coupon.created", COUPON, coupon, now=coupon.created_at)
            return coupon
    except IntegrityError as exc:
        if raw.violates(exc, CODE_UNIQUE_CONSTRAINT):
            raise DuplicateCode(f"A coupon with the code {code!r} already exists.") from exc
        if campaign_id is not None and "campaign_id" in str(exc):  # deleted meanwhile
            raise ValidationFailed({"campaign_id": [NO_SUCH_CAMPAIGN]}) from exc
        raise


def check_campaign_code(
    campaign_id: uuid.UUID | None, *, discount: Discount | Mapping[str, Any] | None
) -> None:
    """A code joins an existing campaign, and takes its discount rather than one of its
    own. In a transaction, the campaign then stays until commit (a batch's or an import's
    codes, a create under an Idempotency-Key); a single create in autocommit is one
    statement, whose foreign key decides a campaign deleted since."""
    if campaign_id is None:
        return
    problems: dict[str, list[str]] = {}
    if discount is not None:
        problems["discount"] = ["A code of a campaign takes the campaign's discount."]
    if not campaign_kept(campaign_id):
        problems["campaign_id"] = [NO_SUCH_CAMPAIGN]
    if problems:
        raise ValidationFailed(problems)


def as_discount(value: Discount | Mapping[str, Any] | None) -> Discount | None:
    """A discount as the API's input gives it (the five keys), or as the domain's."""
    if value is None or isinstance(value, Discount):
        return value
    try:
        return Discount(**value)
    except InvalidDiscount as exc:
        raise ValidationFailed({f"discount.{k}": v for k, v in exc.errors.items()}) from exc


def get_coupon(coupon_id: uuid.UUID) -> Coupon:
    coupon = raw.one_coupon(coupon_id=coupon_id)
    if coupon is None:
        raise NotFound(f"No coupon has the id {coupon_id}.")
    return coupon


def update_coupon(coupon_id: uuid.UUID, *, changes: dict[str, Any]) -> Coupon:
    """Apply `changes` (the editable fields, `discount` and a `metadata` patch) in one
    transaction, ending in one conditional UPDATE.

    A new `init_count` moves `remaining_count` by the same delta in SQL, so a redemption
    committing at the same moment is never lost; the condition refuses a count that would
    leave fewer uses than were already spent. `discount` is replaced whole (None removes
    it) while the coupon was never redeemed nor is held (DiscountLocked after, unless it
    is the same discount); `metadata` is merged (a None value removes the key) into the
    row as it is when locked, so two concurrent patches of different keys both land.
    Changes that leave every value as it is write nothing: no UPDATE, no event,
    `updated_at` kept.
    """
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    current = get_coupon(coupon_id)
    if not _changes_anything(current, changes):
        # Every value was the one asked for when read: the PATCH took effect at that read.
        return current
    values: dict[str, Any] = {
        name: value for name, value in changes.items() if name in _SET_AS_GIVEN
    }
    values["updated_at"] = timezone.now()
    matching = Coupon.objects.filter(pk=coupon_id)
    if "init_count" in changes:
        new_count = changes["init_count"]
        # All SET expressions read the row as it was, so this delta uses the old init_count.
        values["remaining_count"] = F("remaining_count") + (new_count - F("init_count"))
        matching = matching.filter(remaining_count__gte=F("init_count") - new_count)
    try:
        with transaction.atomic():
            if "discount" in changes or "metadata" in changes:
                values.update(_locked_row_changes(coupon_id, changes))
            if not matching.update(**values):
                used = (
                    Coupon.objects.filter(pk=coupon_id)
                    .values_list(F("init_count") - F("remaining_count"), flat=True)
                    .first()
                )
                if used is None:
                    raise NotFound(f"No coupon has the id {coupon_id}.")
                raise CountBelowUsed(
                    f"{used} use(s) are already spent; init_count cannot go below that."
                )
            return record_coupon("coupon.updated", coupon_id, now=values["updated_at"])
    except IntegrityError as exc:
        if raw.violates(exc, WINDOW_CONSTRAINT):
            raise ValidationFailed({"expires_at": ["Must be after starts_at."]}) from exc
        raise


def _changes_anything(current: Coupon, changes: dict[str, Any]) -> bool:
    """Whether applying `changes` to `current` would leave any value different."""
    if any(
        getattr(current, name) != value for name, value in changes.items() if name in _SET_AS_GIVEN
    ):
        return True
    if "discount" in changes and as_discount(changes["discount"]) != current.discount:
        return True
    return "metadata" in changes and (
        merge_metadata(current.metadata, changes["metadata"]) != current.metadata
    )


def _locked_row_changes(coupon_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
    """The columns a discount or metadata change sets, decided on the coupon's row locked
    (FOR UPDATE) until the caller's transaction ends.

    Lock first, then look for redemptions: a redemption locks the same row (its UPDATE of
    remaining_count) and commits its row with it, so once this lock is held every
    redemption is either committed (and seen by the fresh snapshot of the next statement)
    or waiting, to be computed with the discount this transaction leaves.
    """
    current = Coupon.objects.select_for_update().filter(pk=coupon_id).first()
    if current is None:
        raise NotFound(f"No coupon has the id {coupon_id}.")
    values: dict[str, Any] = {}
    if "discount" in changes:
        discount = as_discount(changes["discount"])
        if discount is not None and current.campaign_id is not None:
            raise ValidationFailed(
                {"discount": ["A code of a campaign takes the campaign's discount."]}
            )
        if discount != current.discount:
            if Redemption.objects.filter(coupon_id=coupon_id).exists():
                raise DiscountLocked()
            if Reservation.objects.filter(coupon_id=coupon_id, status=HELD).exists():
                raise DiscountLocked(HELD_DISCOUNT_LOCKED)
            values.update(discount_columns(discount))
    if "metadata" in changes:
        # MetadataTooLarge (a ValidationFailed) when the result would hold too many keys.
        values["metadata"] = merge_metadata(current.metadata, changes["metadata"])
    return values


def set_coupons_active(coupon_ids: list[uuid.UUID], *, active: bool) -> int:
    """Activate or deactivate many coupons in one UPDATE (the counts are not touched),
    each with its `coupon.updated`."""
    now = timezone.now()
    with transaction.atomic():
        changed = list(Coupon.objects.select_for_update().filter(pk__in=coupon_ids).order_by("pk"))
        Coupon.objects.filter(pk__in=[c.pk for c in changed]).update(
            is_active=active, updated_at=now
        )
        for coupon in changed:
            coupon.is_active, coupon.updated_at = active, now
            record("coupon.updated", COUPON, coupon, now=now)
    return len(changed)


def delete_coupon(coupon_id: uuid.UUID, *, now: datetime | None = None) -> None:
    """Delete a coupon that was never redeemed (nor is held now); history is never lost.
    Its holds that ended without a redemption go with it."""
    try:
        with transaction.atomic():
            now = now or timezone.now()
            coupon = Coupon.objects.filter(pk=coupon_id)
            # Locks its holds, then its row (the lock order), or refuses while one is live.
            clear_ended_holds(coupon, now=now)
            # Its event's data: the coupon as it was last (its row is locked).
            last = coupon.first()
            deleted, _ = coupon.delete()
            if deleted:
                record("coupon.deleted", COUPON, last, now=now)
    except ProtectedError as exc:  # the redemptions' FK is PROTECT
        raise HasRedemptions() from exc
    except IntegrityError as exc:  # a redemption committed between Django's check and delete
        raise HasRedemptions() from exc
    if not deleted:
        raise NotFound(f"No coupon has the id {coupon_id}.")


def coupon_page(
    *,
    cursor: Cursor | None,
    size: int,
    code: str | None = None,
    code_prefix: str | None = None,
    is_active: bool | None = None,
    exhausted: bool | None = None,
    campaign_id: uuid.UUID | None = None,
) -> Page[Coupon]:
    """Coupons newest first, by keyset on (created_at, id): stable while rows are added."""
    queryset = Coupon.objects.all()
    if campaign_id is not None:
        queryset = queryset.filter(campaign_id=campaign_id)
    if code is not None:
        queryset = queryset.with_code(code)
    if code_prefix is not None:
        prefix = lookup_key(code_prefix)
        # Served by the upper(code) text_pattern_ops index on PostgreSQL (migration 0003).
        queryset = (
            queryset.none() if prefix is None else queryset.filter(code__upper__startswith=prefix)
        )
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    if exhausted is not None:
        queryset = queryset.exhausted() if exhausted else queryset.exclude(remaining_count=0)
    return keyset_page(queryset, moment="created_at", cursor=cursor, size=size)


acreate_coupon = in_worker(create_coupon)
aget_coupon = in_worker(get_coupon)
aupdate_coupon = in_worker(update_coupon)
adelete_coupon = in_worker(delete_coupon)
acoupon_page = in_worker(coupon_page)
