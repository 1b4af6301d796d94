"""discount_for (coupons.domain.discounts) as one SQL expression, so that a redemption can
compute its discount inside the statement that spends the use (PostgreSQL)."""

from __future__ import annotations

import re

# What an operand may be: a column (optionally qualified or quoted) or a placeholder
# (%s, %(name)s, $1). Never a value: values go as parameters. Checked, because the
# fragment is pasted into SQL text.
_OPERAND = re.compile(
    r"""
    %s | %\(\w+\)s | \$\d+
    | (?:"\w+"|[A-Za-z_]\w*) (?:\.(?:"\w+"|[A-Za-z_]\w*))?
    """,
    re.VERBOSE,
)


def _operand(name: str, value: str) -> str:
    if not _OPERAND.fullmatch(value):
        raise ValueError(f"{name} must be a column or a placeholder, not {value!r}")
    return value


def discount_sql(
    *, order_amount: str, percent_off: str, amount_off: str, max_amount_off: str
) -> str:
    """An SQL expression (bigint) for the discount on an order, NULL when the coupon has
    no discount (neither percent_off nor amount_off). Each argument names a column or a
    placeholder; with %(name)s placeholders a parameter may appear more than once.

    Percent: LEAST(order, max_amount_off, ROUND(order x percent / 100)). PostgreSQL's
    ROUND(numeric) rounds half away from zero, which is half up for the non-negative values
    here; multiplying by 0.01 rather than dividing by 100 keeps numeric exact (a product's
    scale is the sum of its factors'; a quotient's is chosen by the server). LEAST ignores
    NULLs, hence the CASE: without a discount the answer must be NULL, not the order.
    """
    order = f"({_operand('order_amount', order_amount)})::bigint"
    percent = f"({_operand('percent_off', percent_off)})::numeric"
    amount = f"({_operand('amount_off', amount_off)})::bigint"
    cap = f"({_operand('max_amount_off', max_amount_off)})::bigint"
    return (
        f"(CASE WHEN {amount} IS NOT NULL THEN LEAST({amount}, {order})"
        f" WHEN {percent} IS NOT NULL THEN LEAST({order}, COALESCE({cap}, {order}),"
        f" ROUND({order} * {percent} * 0.01))::bigint"
        " END)"
    )
