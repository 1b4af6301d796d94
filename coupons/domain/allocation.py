"""Where every minor unit of a discount goes: split over an order's lines by largest
remainder, and a line's share over its units in at most two groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class UnitGroup:
    """`quantity` units of a line, each discounted by `amount_each`."""

    quantity: int
    amount_each: int


@dataclass(frozen=True, slots=True)
class LineAllocation:
    line_id: str
    amount: int
    units: tuple[UnitGroup, ...]


def split_by_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to `weights` (non-negative, not all 0 unless `total`
    is): each share is first `floor(total x weight / sum)`, then the units left over go
    one each to the largest remainders, ties to the earlier weight. The shares add up to
    `total` exactly, and none exceeds its weight when `total` <= the weights' sum."""
    whole = sum(weights)
    if total == 0:
        return [0] * len(weights)
    if whole <= 0:
        raise ValueError(f"cannot split {total} over weights that add up to {whole}")
    shares = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    left = total - sum(shares)
    # Fewer units are left than there are non-zero remainders (the fractions add up to
    # `left`, each below 1), so every unit goes to a distinct weight.
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def split_over_units(amount: int, quantity: int) -> tuple[UnitGroup, ...]:
    """`amount` over `quantity` units as evenly as possible: the larger amount first, at
    most two groups whose amounts differ by exactly 1; nothing for an amount of 0.
    1000 over 3 units: 1 unit of 334 and 2 of 333."""
    if amount == 0:
        return ()
    each, extra = divmod(amount, quantity)
    if extra == 0:
        return (UnitGroup(quantity, each),)
    return (UnitGroup(extra, each + 1), UnitGroup(quantity - extra, each))


def allocate_discount(
    amount: int, *, line_ids: Sequence[str], quantities: Sequence[int], weights: Sequence[int]
) -> tuple[LineAllocation, ...]:
    """`amount` over the lines (one entry each, in order): exactly the weights when they
    add up to it (each line's own amount), else split by largest remainder in proportion
    to them; then each line's share over its units."""
    shares = (
        list(weights) if sum(weights) == amount else split_by_largest_remainder(amount, weights)
    )
    return tuple(
        LineAllocation(line_id, share, split_over_units(share, quantity))
        for line_id, quantity, share in zip(line_ids, quantities, shares, strict=True)
    )


def allocations_json(allocations: Sequence[LineAllocation] | None) -> list[dict[str, Any]] | None:
    if allocations is None:
        return None
    return [
        {
            "line_id": a.line_id,
            "amount": a.amount,
            "units": [{"quantity": u.quantity, "amount_each": u.amount_each} for u in a.units],
        }
        for a in allocations
    ]
