"""A property test: random interleavings of redeem / revert / edits keep the invariant.

For every coupon, `init_count - remaining_count` equals its live redemptions, and every
answer matches a simple model of what the coupon should allow.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coupons.errors import (
    AlreadyReverted,
    CountBelowUsed,
    CouponExhausted,
    CouponInactive,
    CustomerIdRequired,
    CustomerLimitReached,
    DomainError,
)
from coupons.services import coupons as coupon_service
from coupons.services import redemptions
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
