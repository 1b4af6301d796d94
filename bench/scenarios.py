"""The carts, groups, report and flash-sale scenarios of `make bench` (bench/run.py): what
they seed, the bodies they send, and the checks after them.

Bodies are built here, in Python, so that tests/test_bench.py can send the very ones wrk
sends to the service and see them priced as the scenarios mean.
"""

from __future__ import annotations

import json
from collections.abc import Callable

SPREAD = 10_000
FLASH_USES = 10_000
CAMPAIGN_ID = "00000000-0000-4000-8000-00000000ca4e"
REPORT_CAMPAIGN_ID = "00000000-0000-4000-8000-0000000e5e07"
REPORT_CODES, REPORT_REDEMPTIONS, REPORT_DAYS = 200, 30_000, 90

# Discounts of the new scenarios' codes, created once through the service (so their
# columns are whatever it stores), then copied to SPREAD codes each by SQL.
CART_PERCENT = 15
CART_DISCOUNT = {
    "percent_off": CART_PERCENT,
    "currency": "EUR",
    "applies_to": {"categories": ["shoes"]},
}
# Two combinable codes on one order: a product discount, then an order discount.
GROUP_DISCOUNTS = {
    "GP": {"percent_off": 20, "currency": "EUR", "applies_to": {"categories": ["shoes"]},
           "combines_with": {"order": True}},
    "GO": {"percent_off": 10, "currency": "EUR", "combines_with": {"product": True}},
}  # fmt: skip
TEMPLATES = {"CART": CART_DISCOUNT, **GROUP_DISCOUNTS}


def cart_order(lines: int) -> dict:
    """An order of `lines` lines, every other one a pair of shoes (the targeted category)."""
    return {
        "currency": "EUR",
        "lines": [
            {"id": f"l{i}", "product_id": f"p-{i}", "categories": ["shoes" if i % 2 else "hats"],
             "quantity": 1 + i % 3, "unit_amount": 1999 + 100 * i}
            for i in range(1, lines + 1)
        ],
    }  # fmt: skip


CART = cart_order(10)


def cart_discount(order: dict, percent: int) -> int:
    """The discount of `percent` off the order's shoes (the contract: S x percent / 100,
    rounded half up)."""
    shoes = sum(
        line["quantity"] * line["unit_amount"]
        for line in order["lines"]
        if "shoes" in line["categories"]
    )
    return (shoes * percent + 50) // 100


def body(kind: str, n: int) -> str:
    """The JSON body wrk sends for `kind` with code number `n` (1..SPREAD)."""
    cart = json.dumps(CART, separators=(",", ":"))
    if kind in ("cart-validate", "cart-redeem"):
        return f'{{"code":"cart-{n:05d}","order":{cart}}}'
    if kind == "group":
        return f'{{"codes":["gp-{n:05d}","go-{n:05d}"],"order":{cart}}}'
    if kind == "flash":
        return '{"code":"flash"}'
    raise ValueError(kind)


def lua_template(kind: str) -> str:
    """`body(kind, n)` as a Lua string.format pattern (n in %05d)."""
    return body(kind, 99999).replace("99999", "%05d").replace('"', '\\"')


def templates_script() -> str:
    """What `manage.py shell -c` runs to create one template coupon per discount."""
    return (
        "import json\nfrom coupons.services.coupons import create_coupon\n"
        f"for code, discount in json.loads({json.dumps(json.dumps(TEMPLATES))}).items():\n"
        "    create_coupon(code=code + '-TEMPLATE', init_count=1, discount=discount)\n"
    )


def seed_sql() -> str:
    """SPREAD codes per template (CART-00001, ...), the flash sale's code, and a campaign
    with REPORT_REDEMPTIONS redemptions over REPORT_DAYS days (every tenth reverted), its
    counters and its codes' counts set to match (the bench's invariants hold)."""
    copies = "\n".join(
        f"""INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
              created_at, updated_at, discount_percent_off, discount_amount_off,
              discount_currency, discount_max_amount_off, discount_min_order_amount,
              discount_rules, metadata)
            SELECT gen_random_uuid(), '{prefix}-' || lpad(g::text, 5, '0'), 1000000000,
              1000000000, true, now() - interval '1 day', now(), t.discount_percent_off, t.discount_amount_off,
              t.discount_currency, t.discount_max_amount_off, t.discount_min_order_amount,
              t.discount_rules, '{{}}'
            FROM generate_series(1, {SPREAD}) g,
              (SELECT * FROM coupons_coupon WHERE code = '{prefix}-TEMPLATE') t;"""
        for prefix in TEMPLATES
    )
    return f"""{copies}
        INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
          created_at, updated_at, metadata)
        VALUES (gen_random_uuid(), 'FLASH', {FLASH_USES}, {FLASH_USES}, true, now() - interval '1 day',
          now(), '{{}}');
        UPDATE coupons_coupon SET created_at = now() - interval '1 day' WHERE code LIKE '%-TEMPLATE';
        INSERT INTO coupons_campaign (id, name, is_active, redemption_count, held_count,
          discount_total, metadata, created_at, updated_at)
        VALUES ('{REPORT_CAMPAIGN_ID}', 'report', true, 0, 0, 0, '{{}}', now(), now());
        INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
          created_at, updated_at, campaign_id, metadata)
        SELECT gen_random_uuid(), 'RPT-' || lpad(g::text, 5, '0'), 1000000000, 1000000000,
          true, now() - interval '1 day', now(), '{REPORT_CAMPAIGN_ID}', '{{}}'
        FROM generate_series(1, {REPORT_CODES}) g;
        INSERT INTO coupons_redemption (id, coupon_id, customer_id, order_id, remaining_after,
          redeemed_at, reverted_at, order_amount, currency, discount_amount, metadata)
        SELECT gen_random_uuid(), codes.ids[1 + n % {REPORT_CODES}], 'c-' || (n % 20000),
          'o-' || n, 0, at, CASE WHEN n % 10 = 0 THEN at + interval '1 hour' END,
          amount, 'EUR', amount / 10, '{{}}'
        FROM generate_series(1, {REPORT_REDEMPTIONS}) n,
          LATERAL (SELECT now() - ({REPORT_DAYS} * interval '1 day')
                            * (n::float8 / {REPORT_REDEMPTIONS}) AS at,
                          1000 + (n::bigint * 7919) % 20000 AS amount) made,
          (SELECT array_agg(id ORDER BY code) ids FROM coupons_coupon
            WHERE campaign_id = '{REPORT_CAMPAIGN_ID}') codes;
        UPDATE coupons_coupon c SET remaining_count = init_count - live.n
          FROM (SELECT coupon_id, count(*) n FROM coupons_redemption
                WHERE reverted_at IS NULL GROUP BY coupon_id) live
         WHERE live.coupon_id = c.id AND c.campaign_id = '{REPORT_CAMPAIGN_ID}';
        UPDATE coupons_campaign SET
          redemption_count = (SELECT count(*) FROM coupons_redemption r JOIN coupons_coupon c
            ON c.id = r.coupon_id WHERE c.campaign_id = '{REPORT_CAMPAIGN_ID}'
            AND r.reverted_at IS NULL),
          discount_total = (SELECT sum(r.discount_amount) FROM coupons_redemption r
            JOIN coupons_coupon c ON c.id = r.coupon_id
            WHERE c.campaign_id = '{REPORT_CAMPAIGN_ID}' AND r.reverted_at IS NULL)
         WHERE id = '{REPORT_CAMPAIGN_ID}';"""


def broken_after(kind: str, psql: Callable[[str], str]) -> str | None:
    """What a scenario's rows say it broke (None: nothing): every cart redemption took the
    cart's one discount, allocated to the minor unit; every group holds its two codes'
    live redemptions, its total their sum."""
    if kind == "cart-redeem":
        wrong = psql(f"""SELECT count(*) FROM coupons_redemption r JOIN coupons_coupon c
            ON c.id = r.coupon_id AND c.code LIKE 'CART-%'
            WHERE r.discount_amount IS DISTINCT FROM {cart_discount(CART, CART_PERCENT)}
               OR r.discount_amount IS DISTINCT FROM (SELECT sum((a->>'amount')::bigint)
                    FROM jsonb_array_elements(r.allocations) a)""")
        return None if wrong == "0" else f"{wrong} cart redemption(s) with a wrong discount"
    if kind == "group":
        wrong = psql("""SELECT count(*) FROM coupons_redemptiongroup g
            WHERE 2 <> (SELECT count(*) FROM coupons_redemption r
                        WHERE r.group_id = g.id AND r.reverted_at IS NULL)
               OR g.discount_amount IS DISTINCT FROM (SELECT sum(r.discount_amount)
                    FROM coupons_redemption r WHERE r.group_id = g.id)""")
        return None if wrong == "0" else f"{wrong} group(s) whose redemptions do not match"
    return None
