"""The bare ASGI yardstick: the benchmark's same work with nothing in between.

A raw ASGI app over an async psycopg pool doing the service's SQL (API key checked against
an in-memory set, as the service's cache does). `make bench` runs it beside the service.
"""

import json, os, uuid  # noqa: E401
from datetime import UTC, datetime

from psycopg import Rollback
from psycopg_pool import AsyncConnectionPool

pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=4, max_size=16, open=False)
KEYS = {f"Bearer {k}".encode() for k in os.environ["BENCH_KEYS"].split(",")}
COLS = "id, code, init_count, remaining_count, is_active, starts_at, expires_at, per_customer_limit, created_at, updated_at"  # noqa: E501


def row_json(r):
    return {"id": str(r[0]), "code": r[1], "init_count": r[2], "remaining_count": r[3], "is_active": r[4],
            "starts_at": r[5] and r[5].isoformat(), "expires_at": r[6] and r[6].isoformat(),
            "per_customer_limit": r[7], "created_at": r[8].isoformat(), "updated_at": r[9].isoformat()}  # fmt: skip


async def query(sql, args):
    async with pool.connection() as conn:
        return await (await conn.execute(sql, args)).fetchall()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if pool.closed:
        await pool.open()
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    status, out, path, now = 200, None, scope["path"], datetime.now(UTC)
    if dict(scope["headers"]).get(b"authorization") not in KEYS:
        status, out = 401, {"code": "unauthenticated"}
    elif scope["method"] == "GET" and path == "/v1/coupons/":
        rows = await query(f"SELECT {COLS} FROM coupons_coupon ORDER BY created_at DESC, id DESC LIMIT 51", ())  # noqa: E501, S608
        out = {"results": [row_json(r) for r in rows[:50]], "next": None, "previous": None}
    elif scope["method"] == "GET" and path.startswith("/v1/coupons/"):
        rows = await query(f"SELECT {COLS} FROM coupons_coupon WHERE id = %s", (path.split("/")[3],))  # noqa: S608
        status, out = (200, row_json(rows[0])) if rows else (404, {"code": "not_found"})
    elif path == "/v1/coupons/":
        data = json.loads(body)
        rows = await query(f"INSERT INTO coupons_coupon ({COLS}) VALUES (%s, %s, %s, %s, true, NULL, NULL, NULL, %s, %s) RETURNING {COLS}",  # noqa: E501, S608
                           (uuid.uuid4(), data["code"], data["init_count"], data["init_count"], now, now))  # fmt: skip
        status, out = 201, row_json(rows[0])
    elif path == "/v1/redemptions/" and b'"order"' in body:
        data = json.loads(body)
        amount, currency = data["order"]["amount"], data["order"]["currency"]
        # The discounted redemption with nothing in between: the same one statement.
        rows = await query("""WITH spent AS (UPDATE coupons_coupon SET remaining_count = remaining_count - 1, updated_at = %s
              WHERE upper(code) = %s AND is_active AND remaining_count > 0
                AND (discount_currency IS NULL OR discount_currency = %s)
                AND (discount_min_order_amount IS NULL OR discount_min_order_amount <= %s)
              RETURNING id, code, remaining_count, discount_percent_off, discount_amount_off, discount_max_amount_off)
            INSERT INTO coupons_redemption (id, coupon_id, customer_id, order_id, remaining_after, redeemed_at,
                                            order_amount, currency, discount_amount)
            SELECT %s, id, NULL, NULL, remaining_count, %s, %s, %s,
                   CASE WHEN discount_amount_off IS NOT NULL THEN LEAST(discount_amount_off, %s)
                        ELSE LEAST(%s, COALESCE(discount_max_amount_off, %s),
                                   ROUND(%s * discount_percent_off * 0.01))::bigint END
              FROM spent RETURNING id, coupon_id, remaining_after, discount_amount""",
                           (now, data["code"].upper(), currency, amount, uuid.uuid4(), now, amount, currency,
                            amount, amount, amount, amount))  # fmt: skip
        status, out = (201, {"id": str(rows[0][0]), "coupon_id": str(rows[0][1]), "remaining_count": rows[0][2], "order_amount": amount, "currency": currency, "discount_amount": rows[0][3]}) if rows else (409, {"code": "coupon_exhausted"})  # noqa: E501
    elif path == "/v1/redemptions/" and b'"camp-' in body:
        # A code of a campaign: the coupon's row, then the campaign's, then the redemption
        # row, in one transaction, as the service does.
        code, out, status = json.loads(body)["code"].upper(), {"code": "campaign_exhausted"}, 409
        async with pool.connection() as conn, conn.transaction():
            spent = await (await conn.execute("""UPDATE coupons_coupon SET remaining_count = remaining_count - 1,
                updated_at = %s WHERE upper(code) = %s AND is_active AND remaining_count > 0
                RETURNING id, remaining_count, campaign_id""", (now, code))).fetchall()  # fmt: skip
            took = spent and await (await conn.execute("""UPDATE coupons_campaign SET redemption_count =
                redemption_count + 1, updated_at = %s WHERE id = %s AND is_active
                AND (max_redemptions IS NULL OR redemption_count + held_count < max_redemptions)
                RETURNING id""", (now, spent[0][2]))).fetchall()  # fmt: skip
            if not took:
                raise Rollback()
            rid = uuid.uuid4()
            await conn.execute("""INSERT INTO coupons_redemption (id, coupon_id, remaining_after, redeemed_at)
                VALUES (%s, %s, %s, %s)""", (rid, spent[0][0], spent[0][1], now))  # fmt: skip
            status, out = 201, {"id": str(rid), "coupon_id": str(spent[0][0]), "remaining_count": spent[0][1]}
    elif path == "/v1/redemptions/":
        code = json.loads(body)["code"].upper()
        rows = await query("""WITH spent AS (UPDATE coupons_coupon SET remaining_count = remaining_count - 1, updated_at = %s
              WHERE upper(code) = %s AND is_active AND remaining_count > 0 RETURNING id, code, remaining_count)
            INSERT INTO coupons_redemption (id, coupon_id, customer_id, order_id, remaining_after, redeemed_at)
            SELECT %s, id, NULL, NULL, remaining_count, %s FROM spent RETURNING id, coupon_id, remaining_after""",
                           (now, code, uuid.uuid4(), now))  # fmt: skip
        status, out = (201, {"id": str(rows[0][0]), "coupon_id": str(rows[0][1]), "remaining_count": rows[0][2]}) if rows else (409, {"code": "coupon_exhausted"})  # noqa: E501
    elif path == "/v1/reservations/":
        # A hold: the coupon's use taken and counted as held, and the reservation row, in
        # one transaction, as the service does.
        code, rid, out, status = json.loads(body)["code"].upper(), uuid.uuid4(), {"code": "coupon_exhausted"}, 409
        async with pool.connection() as conn, conn.transaction():
            spent = await (await conn.execute("""UPDATE coupons_coupon SET remaining_count = remaining_count - 1,
                held_count = held_count + 1, updated_at = %s WHERE upper(code) = %s AND is_active
                AND remaining_count > 0 RETURNING id""", (now, code))).fetchall()  # fmt: skip
            if spent:
                await conn.execute("""INSERT INTO coupons_reservation (id, coupon_id, status, expires_at, created_at)
                    VALUES (%s, %s, 'held', %s + interval '600 s', %s)""", (rid, spent[0][0], now, now))  # fmt: skip
                status, out = 201, {"id": str(rid), "coupon_id": str(spent[0][0]), "status": "held"}
    elif path.startswith("/v1/reservations/") and path.endswith("/confirm/"):
        # Confirm: the hold's row from held (a conditional UPDATE), the coupon's held count,
        # the redemption row (the reservation's foreign key to it is checked at commit).
        red, out, status = uuid.uuid4(), {"code": "reservation_expired"}, 409
        async with pool.connection() as conn, conn.transaction():
            held = await (await conn.execute("""UPDATE coupons_reservation SET status = 'confirmed', redemption_id = %s
                WHERE id = %s AND status = 'held' AND expires_at > %s RETURNING coupon_id""",
                                             (red, path.split("/")[3], now))).fetchall()  # fmt: skip
            if held:
                left = await (await conn.execute("""UPDATE coupons_coupon SET held_count = held_count - 1, updated_at = %s
                    WHERE id = %s RETURNING remaining_count""", (now, held[0][0]))).fetchall()  # fmt: skip
                await conn.execute("""INSERT INTO coupons_redemption (id, coupon_id, remaining_after, redeemed_at)
                    VALUES (%s, %s, %s, %s)""", (red, held[0][0], left[0][0], now))  # fmt: skip
                status, out = 201, {"id": str(red), "coupon_id": str(held[0][0]), "remaining_count": left[0][0]}
    elif path == "/v1/validations/":
        rows = await query("SELECT remaining_count, is_active FROM coupons_coupon WHERE upper(code) = %s", (json.loads(body)["code"].upper(),))  # noqa: E501
        out = {"valid": bool(rows and rows[0][0] > 0 and rows[0][1]), "reason": None, "remaining_count": rows[0][0] if rows else None}  # noqa: E501
    else:
        status, out = 404, {"code": "not_found"}
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})  # noqa: E501
    await send({"type": "http.response.body", "body": json.dumps(out).encode()})
