"""A property test: random interleavings of redeem / revert / edits keep the invariant.

For every coupon, `init_count - remaining_count` equals its live redemptions; for every
campaign, its counters equal the sums over its live redemptions, within its limits; and
every answer matches a simple model of what the coupon (and its campaign) should allow.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import (
    AlreadyReverted,
    BudgetBelowSpent,
    BudgetExhausted,
    CampaignExhausted,
    CampaignInactive,
    CountBelowUsed,
    CouponExhausted,
    CouponInactive,
    CustomerIdRequired,
    CustomerLimitReached,
    DomainError,
)
from coupons.models import Campaign
from coupons.services import campaigns, redemptions
from coupons.services import coupons as coupon_service
from tests.campaigns import broken_campaign_counters
from tests.factories import broken_invariants, coupon_state, make_coupon

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = st.sampled_from([None, "ann", "bob"])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("redeem"), CUSTOMERS),
        st.tuples(st.just("revert"), st.integers(0, 20)),
        st.tuples(st.just("init_count"), st.integers(1, 6)),
        st.tuples(st.just("limit"), st.sampled_from([None, 1, 2])),
        st.tuples(st.just("active"), st.booleans()),
    ),
    max_size=30,
)


@dataclass
class Model:
    init_count: int
    limit: int | None = None
    active: bool = True
    live: dict[uuid.UUID, str | None] = field(default_factory=dict)
    reverted: set[uuid.UUID] = field(default_factory=set)

    @property
    def remaining(self) -> int:
        return self.init_count - len(self.live)

    def expected_refusal(self, customer: str | None) -> type[DomainError] | None:
        if self.limit is not None and not customer:
            return CustomerIdRequired
        if not self.active:
            return CouponInactive
        if self.remaining <= 0:
            return CouponExhausted
        held = sum(1 for c in self.live.values() if c == customer)
        if self.limit is not None and held >= self.limit:
            return CustomerLimitReached
        return None


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, type | None]:
    try:
        return call(*args, **kwargs), None
    except DomainError as exc:
        return None, type(exc)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(init_count=st.integers(1, 4), steps=STEPS)
def test_random_interleavings_keep_the_invariant(
    transactional_db: None, init_count: int, steps: list[tuple[str, Any]]
) -> None:
    coupon = make_coupon(init_count=init_count)
    model = Model(init_count=init_count)
    made: list[uuid.UUID] = []

    for step, arg in steps:
        if step == "redeem":
            expected = model.expected_refusal(arg)
            record, refused = outcome(
                redemptions.redeem_coupon, code=coupon.code.lower(), customer_id=arg
            )
            assert refused is expected, (step, arg, model)
            if record is not None:
                assert record.remaining_count == model.remaining - 1
                model.live[record.id] = arg
                made.append(record.id)
        elif step == "revert" and made:
            target = made[arg % len(made)]
            _, refused = outcome(redemptions.revert_redemption, target)
            if target in model.reverted:
                assert refused is AlreadyReverted
            else:
                assert refused is None
                del model.live[target]
                model.reverted.add(target)
        elif step == "init_count":
            _, refused = outcome(
                coupon_service.update_coupon, coupon.id, changes={"init_count": arg}
            )
            if arg < len(model.live):
                assert refused is CountBelowUsed
            else:
                assert refused is None
                model.init_count = arg
        elif step == "limit":
            coupon_service.update_coupon(coupon.id, changes={"per_customer_limit": arg})
            model.limit = arg
        elif step == "active":
            coupon_service.update_coupon(coupon.id, changes={"is_active": arg})
            model.active = arg

        assert coupon_state(coupon.id) == (model.init_count, model.remaining, len(model.live))
        assert broken_invariants() == []


# Campaigns: three codes of one campaign with a discount of 100 (at most the order), under
# a campaign whose flag, capacity, budget and per-customer limit change between redemptions.

CAMPAIGN_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("redeem"), st.tuples(st.integers(0, 2), CUSTOMERS,
                                               st.sampled_from([50, 100, 1000]))),
        st.tuples(st.just("revert"), st.integers(0, 20)),
        st.tuples(st.just("max_redemptions"), st.sampled_from([None, 1, 2, 3, 4])),
        st.tuples(st.just("budget"), st.sampled_from([None, 0, 100, 150, 250, 400])),
        st.tuples(st.just("limit"), st.sampled_from([None, 1, 2])),
        st.tuples(st.just("active"), st.booleans()),
    ),
    max_size=30,
)  # fmt: skip


@dataclass
class CampaignModel:
    uses: list[int]
    active: bool = True
    max_redemptions: int | None = None
    budget: int | None = None
    limit: int | None = None
    # redemption id -> (code index, customer, discount)
    live: dict[uuid.UUID, tuple[int, str | None, int]] = field(default_factory=dict)
    reverted: set[uuid.UUID] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(off for _, _, off in self.live.values())

    def remaining(self, index: int) -> int:
        return self.uses[index] - sum(1 for i, _, _ in self.live.values() if i == index)

    def expected_refusal(
        self, index: int, customer: str | None, amount: int
    ) -> type[DomainError] | None:
        """coupons.domain.rules' order, restated for this campaign."""
        if self.limit is not None and not customer:
            return CustomerIdRequired
        if self.remaining(index) <= 0:
            return CouponExhausted
        if not self.active:
            return CampaignInactive
        if self.max_redemptions is not None and len(self.live) >= self.max_redemptions:
            return CampaignExhausted
        if self.budget is not None and self.total + min(100, amount) > self.budget:
            return BudgetExhausted
        held = sum(1 for _, c, _ in self.live.values() if c == customer)
        if self.limit is not None and held >= self.limit:
            return CustomerLimitReached
        return None


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(uses=st.lists(st.integers(1, 3), min_size=3, max_size=3), steps=CAMPAIGN_STEPS)
def test_random_interleavings_keep_the_campaign_counters_exact(
    transactional_db: None, uses: list[int], steps: list[tuple[str, Any]]
) -> None:
    campaign = campaigns.create_campaign(
        name="property", discount={"amount_off": 100, "currency": "EUR"}
    )
    codes = [make_coupon(init_count=n, campaign_id=campaign.id) for n in uses]
    model = CampaignModel(uses=uses)
    made: list[uuid.UUID] = []

    for step, arg in steps:
        if step == "redeem":
            index, customer, amount = arg
            expected = model.expected_refusal(index, customer, amount)
            record, refused = outcome(
                redemptions.redeem_coupon, code=codes[index].code, customer_id=customer,
                order={"amount": amount, "currency": "EUR"},
            )  # fmt: skip
            assert refused is expected, (step, arg, model)
            if record is not None:
                assert record.discount_amount == min(100, amount)
                model.live[record.id] = (index, customer, min(100, amount))
                made.append(record.id)
        elif step == "revert" and made:
            target = made[arg % len(made)]
            _, refused = outcome(redemptions.revert_redemption, target)
            assert refused is (AlreadyReverted if target in model.reverted else None)
            if refused is None:
                del model.live[target]
                model.reverted.add(target)
        elif step in ("max_redemptions", "budget", "limit", "active"):
            change = {
                "max_redemptions": {"max_redemptions": arg},
                "budget": {"budget": None if arg is None else {"amount": arg, "currency": "EUR"}},
                "limit": {"per_customer_limit": arg},
                "active": {"is_active": arg},
            }[step]
            _, refused = outcome(campaigns.update_campaign, campaign.id, changes=change)
            if step == "max_redemptions" and arg is not None and arg < len(model.live):
                assert refused is CountBelowUsed
            elif step == "budget" and arg is not None and arg < model.total:
                assert refused is BudgetBelowSpent
            else:
                assert refused is None
                attribute = {"active": "active", "limit": "limit"}.get(step, step)
                setattr(model, attribute, arg)

        campaign.refresh_from_db()
        assert (campaign.redemption_count, campaign.discount_total) == (
            len(model.live), model.total,
        )  # fmt: skip
        for index, code in enumerate(codes):
            assert coupon_state(code.id)[1] == model.remaining(index)
        assert broken_invariants() == []
        # This example's campaign after each step; every campaign (the earlier examples' too:
        # the database is not flushed between examples) once at the end. All of them at each
        # step made the test quadratic in the examples: 5 minutes of the suite.
        assert broken_campaign_counters(Campaign.objects.filter(pk=campaign.pk)) == []

    assert broken_campaign_counters() == []
