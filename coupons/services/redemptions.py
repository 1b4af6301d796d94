"""Redemptions: spend a use, give it back, read the trail (checking one would be spent:
coupons.services.validations)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from access.services.idempotency import KeptBy, StoredAnswer, answer_with_holes, kept_with
from core.errors import (
    AlreadyReverted,
    NotFound,
)
from core.pages import Cursor, Page, keyset_page
from core.workers import in_worker
from coupons.db import raw, redemption_sql
from coupons.domain.carts import Priced, price_order
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Order
from coupons.domain.rules import refusal_for
from coupons.models import Coupon, Redemption
from coupons.services.campaign_redemptions import (
    give_back_campaign_use,
)
from coupons.services.ledger_events import record_use_taken
from coupons.services.priced_orders import order_of, order_shown, shipping_part, use_columns
from coupons.services.spending import (
    not_found,
    reclaiming_expired_holds,
    take_use,
)
from coupons.shapes import REDEMPTION
from events.services.outbox import record


@dataclass(frozen=True, slots=True)
class RedemptionRecord:
    id: uuid.UUID
    coupon_id: uuid.UUID
    code: str
    customer_id: str | None
    order_id: str | None
    remaining_count: int
    redeemed_at: datetime
    reverted_at: datetime | None
    # The order as given (both None without one) and the discount it took (None for a
    # coupon without a discount); kept on revert.
    order_amount: int | None = None
    currency: str | None = None
    discount_amount: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # An order with lines as priced, its shipping, where the discount went, and the
    # shipping's part of it (coupons.services.priced_orders).
    order_lines: list[dict[str, Any]] | None = None
    shipping_amount: int | None = None
    allocations: list[dict[str, Any]] | None = None
    shipping_discount_amount: int | None = None
    group_id: uuid.UUID | None = None  # redeemed with other codes on one order

    @property
    def order(self) -> dict[str, Any] | None:
        return order_shown(
            order_amount=self.order_amount, currency=self.currency,
            order_lines=self.order_lines, shipping_amount=self.shipping_amount,
        )  # fmt: skip


def redemption_record(redemption: Redemption, code: str) -> RedemptionRecord:
    return RedemptionRecord(
        id=redemption.id,
        coupon_id=redemption.coupon_id,
        code=code,
        customer_id=redemption.customer_id,
        order_id=redemption.order_id,
        remaining_count=redemption.remaining_after,
        redeemed_at=redemption.redeemed_at,
        reverted_at=redemption.reverted_at,
        order_amount=redemption.order_amount,
        currency=redemption.currency,
        discount_amount=redemption.discount_amount,
        metadata=redemption.metadata,
        order_lines=redemption.order_lines,
        shipping_amount=redemption.shipping_amount,
        allocations=redemption.allocations,
        shipping_discount_amount=shipping_part(
            redemption.shipping_discount_amount, redemption.discount_amount
        ),
        group_id=redemption.group_id,
    )


def record_redemption(type_: str, redemption: RedemptionRecord, *, now: datetime) -> None:
    record(type_, REDEMPTION, redemption, now=now)


def redeem_coupon(
    *,
    code: str,
    customer_id: str | None = None,
    order_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
    at_once: bool = True,
) -> RedemptionRecord:
    """Spend one use of the coupon with `code` (any letter case) and record who spent it,
    on which order, and the discount that order took.

    Never oversold by construction: one conditional UPDATE decides, in the database, whether
    a use is left (and whether the order fits the coupon's discount), and the redemption row
    is written in the same transaction. The CHECK constraint `remaining_count >= 0` backs it.
    `at_once=False`: the caller tried `redeem_at_once` already.
    """
    now = now or timezone.now()
    given = order_of(order)
    metadata = metadata or {}
    key = lookup_key(code)
    if key is None:
        raise not_found(code)
    if at_once:
        done = _redeem_at_once(
            key=key, customer_id=customer_id, order_id=order_id, given=given,
            metadata=metadata, api_key_id=api_key_id, now=now,
        )  # fmt: skip
        if done is not None:
            return done[0]

    # Coupons with a per-customer limit or a campaign, refusals, and SQLite take the
    # general path (coupons.services.spending), refused ones once more if expired holds
    # kept the use.
    def attempt() -> RedemptionRecord:
        # A savepoint when nested (under an Idempotency-Key's claim): a refusal undoes
        # this attempt alone, and the retry after returning expired holds can run.
        with transaction.atomic():
            taken = take_use(
                key=key, code=code, customer_id=customer_id, order=given, now=now, hold=False
            )
            done = record_new_redemption(
                coupon_id=taken.coupon_id, campaign_id=taken.campaign_id, code=taken.code,
                remaining=taken.remaining_count,
                priced=taken.priced, order=given, customer_id=customer_id, order_id=order_id,
                metadata=metadata, api_key_id=api_key_id, now=now,
            )  # fmt: skip
        return done

    return reclaiming_expired_holds(key, now, attempt)


def redeem_at_once(
    *,
    code: str,
    render: Callable[[RedemptionRecord], StoredAnswer],
    keep: KeptBy | None = None,
    customer_id: str | None = None,
    order_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    api_key_id: uuid.UUID | None = None,
) -> StoredAnswer | None:
    """`redeem_coupon`'s one-statement path alone, its answer `render`ed; None when it does
    not apply, with nothing written (then `redeem_coupon(..., at_once=False)` decides). With
    `keep`, the same statement keeps the answer for that Idempotency-Key: a flash sale's
    hot row stays locked for that one statement and its commit, no round trip more
    (IntegrityError when the key's answer was kept meanwhile, nothing written)."""
    key = lookup_key(code)
    if key is None:
        return None
    done = _redeem_at_once(
        key=key, customer_id=customer_id, order_id=order_id, given=order_of(order),
        metadata=metadata or {}, api_key_id=api_key_id, now=timezone.now(),
        keep=keep, render=render,
    )  # fmt: skip
    if done is None:
        return None
    record, kept = done
    return render(record) if kept is None else kept


def _redeem_at_once(
    *, key: str, customer_id: str | None, order_id: str | None, given: Order | None,
    metadata: dict[str, str], api_key_id: uuid.UUID | None, now: datetime,
    keep: KeptBy | None = None,
    render: Callable[[RedemptionRecord], StoredAnswer] | None = None,
) -> tuple[RedemptionRecord, StoredAnswer | None] | None:  # fmt: skip
    """The redemption (and the answer kept for `keep`) by `redemption_sql.spend_and_record`, if it
    applies (PostgreSQL; a coupon of no campaign and no per-customer limit with uses to
    spare). A plain order goes to the statement as it is; an order with lines or shipping
    is priced first (coupons.domain.carts) from the coupon as read, without a lock, and
    the statement spends only if the coupon still has the discount it was priced with."""
    if not raw.is_postgres():
        return None
    priced_with = None
    priced = None
    if given is not None and not given.is_plain:
        priced_with = raw.one_coupon(code_key=key)
        if priced_with is None or not _spendable_at_once(priced_with, order=given, now=now):
            return None
        discount = priced_with.discount
        priced = None if discount is None else price_order(discount, given)
    use = use_columns(given, priced)
    # What the statement will record, less what only it knows (set there).
    known = RedemptionRecord(
        id=uuid.uuid4(), customer_id=customer_id, order_id=order_id, remaining_count=0,
        redeemed_at=now, reverted_at=None, metadata=metadata,
        coupon_id=uuid.UUID(int=0) if priced_with is None else priced_with.id,
        code="" if priced_with is None else priced_with.code,
        **{**use, "shipping_discount_amount": shipping_part(
            use["shipping_discount_amount"], use["discount_amount"]
        )},
    )  # fmt: skip
    holes = (
        redemption_sql.ROW_VALUE_FIELDS
        if priced_with is None
        else redemption_sql.PRICED_ROW_VALUE_FIELDS
    )
    with_holes = None
    if keep is not None and render is not None:
        with_holes = answer_with_holes(keep, render, known, holes)
    spent = redemption_sql.spend_and_record(
        redemption_id=known.id, code_key=key, customer_id=customer_id, order_id=order_id,
        use=use, metadata=metadata, api_key_id=api_key_id, now=now,
        event_data=REDEMPTION(known), priced_with=priced_with, keep=with_holes,
    )  # fmt: skip
    if spent is None:
        return None
    record = replace(
        known, coupon_id=spent.coupon_id, code=spent.code,
        remaining_count=spent.remaining_count, discount_amount=spent.discount_amount,
        shipping_discount_amount=shipping_part(
            use["shipping_discount_amount"], spent.discount_amount
        ),
    )  # fmt: skip
    kept = None
    if with_holes is not None and spent.kept_body is not None:
        kept = kept_with(with_holes, spent.kept_body)
    return record, kept


def _spendable_at_once(coupon: Coupon, *, order: Order, now: datetime) -> bool:
    """What the priced statement also requires (it tests it again on the row it locks):
    no campaign, no per-customer limit, redeemable now on `order`, more than one use."""
    return (
        coupon.campaign_id is None
        and coupon.per_customer_limit is None
        and coupon.remaining_count > 1
        and refusal_for(coupon, now=now, customer_id=None, order=order, order_required=True) is None
    )


def record_new_redemption(
    *, coupon_id: uuid.UUID, campaign_id: uuid.UUID | None, code: str, remaining: int,
    priced: Priced | None,
    order: Order | None, customer_id: str | None, order_id: str | None,
    metadata: dict[str, str], api_key_id: uuid.UUID | None, now: datetime,
    group_id: uuid.UUID | None = None, position: int | None = None,
) -> RedemptionRecord:  # fmt: skip
    """The redemption of a use just taken in the caller's transaction (alone, or the
    `position`th applied of a group), its event, and those of a last use or budget."""
    redemption = Redemption.objects.create(
        coupon_id=coupon_id, customer_id=customer_id, order_id=order_id,
        remaining_after=remaining, redeemed_at=now, api_key_id=api_key_id, metadata=metadata,
        group_id=group_id, group_position=position, **use_columns(order, priced),
    )  # fmt: skip
    done = redemption_record(redemption, code)
    record_redemption("redemption.created", done, now=now)
    record_use_taken(
        coupon_id=coupon_id, campaign_id=campaign_id, remaining_count=remaining,
        discount_amount=redemption.discount_amount, now=now,
    )  # fmt: skip
    return done


def revert_redemption(redemption_id: uuid.UUID, *, now: datetime | None = None) -> RedemptionRecord:
    """Give the use back, exactly once; for a code of a campaign, its capacity and its
    discount too."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock order: the redemption row, then its coupon row, then its campaign row, the
        # one order of every path (coupons.services.campaign_redemptions). Redeeming locks
        # the coupon row, then the campaign row (and inserts new rows), so the two can
        # never wait on each other in a cycle. The conditional UPDATE makes concurrent
        # reverts of one redemption race on that row: exactly one matches.
        stamped = Redemption.objects.filter(pk=redemption_id, reverted_at__isnull=True).update(
            reverted_at=now
        )
        if not stamped:
            if Redemption.objects.filter(pk=redemption_id).exists():
                raise AlreadyReverted()
            raise NotFound(f"No redemption has the id {redemption_id}.")
        redemption = Redemption.objects.select_related("coupon").get(pk=redemption_id)
        Coupon.objects.filter(pk=redemption.coupon_id).update(
            remaining_count=F("remaining_count") + 1, updated_at=now
        )
        if redemption.coupon.campaign_id is not None:
            give_back_campaign_use(
                redemption.coupon.campaign_id, discount_amount=redemption.discount_amount,
                customer_id=redemption.customer_id, now=now,
            )  # fmt: skip
        reverted = redemption_record(redemption, redemption.coupon.code)
        record_redemption("redemption.reverted", reverted, now=now)
    return reverted


def get_redemption(redemption_id: uuid.UUID) -> RedemptionRecord:
    try:
        redemption = Redemption.objects.select_related("coupon").get(pk=redemption_id)
    except Redemption.DoesNotExist as exc:
        raise NotFound(f"No redemption has the id {redemption_id}.") from exc
    return redemption_record(redemption, redemption.coupon.code)


def redemption_page(
    *,
    cursor: Cursor | None,
    size: int,
    coupon_id: uuid.UUID | None = None,
    customer_id: str | None = None,
    code: str | None = None,
) -> Page[RedemptionRecord]:
    queryset = Redemption.objects.select_related("coupon")
    if coupon_id is not None:
        queryset = queryset.filter(coupon_id=coupon_id)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if code is not None:
        key = lookup_key(code)
        queryset = queryset.none() if key is None else queryset.filter(coupon__code__upper=key)
    page = keyset_page(queryset, moment="redeemed_at", cursor=cursor, size=size)
    return Page(
        [redemption_record(r, r.coupon.code) for r in page.rows],
        next=page.next,
        previous=page.previous,
    )


def coupon_redemption_page(
    coupon_id: uuid.UUID, *, cursor: Cursor | None, size: int
) -> Page[RedemptionRecord]:
    if not Coupon.objects.filter(pk=coupon_id).exists():
        raise NotFound(f"No coupon has the id {coupon_id}.")
    return redemption_page(cursor=cursor, size=size, coupon_id=coupon_id)


aget_redemption = in_worker(get_redemption)
aredemption_page = in_worker(redemption_page)
acoupon_redemption_page = in_worker(coupon_redemption_page)
