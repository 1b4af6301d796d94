"""A write that lands on a read-only server (the old primary after a failover, SQLSTATE
25006): a 503 `database_unavailable` with Retry-After that leaves no trace, so the client's
retry with the same Idempotency-Key runs afresh once the primary is back."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from tests.factories import acoupon_state, amake_coupon
from tests.problems import assert_problem

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _set_read_only(on: bool) -> None:
    """The test database's default for new sessions, set from the maintenance database
    (a session of the test database itself would be read-only too)."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    ) as admin:
        change = (
            "SET default_transaction_read_only = on"
            if on
            else "RESET default_transaction_read_only"
        )
        admin.execute(f'ALTER DATABASE "{db["NAME"]}" {change}')
    # Only new sessions read the database's default: the pool starts afresh.
    connections.close_all()
    pooled: Any = connection
    pooled.close_pool()


async def test_a_write_on_a_read_only_server_is_a_503_and_the_keyed_retry_runs_afresh(
    api, redeem, manage
):
    coupon = await amake_coupon("READONLY", init_count=5)
    headers = {**redeem, "Idempotency-Key": "k-read-only"}
    body = {"code": "READONLY", "order_id": "o-1"}

    await sync_to_async(_set_read_only)(True)
    try:
        refused = await api.post("/v1/redemptions/", json=body, headers=headers)
        read = await api.get(f"/v1/coupons/{coupon.id}/", headers=manage)
    finally:
        await sync_to_async(_set_read_only)(False)

    assert_problem(refused, 503, "database_unavailable")
    assert refused.headers["retry-after"] == "1"
    # A read writes too (the API key's last use), so it is refused the same way.
    assert_problem(read, 503, "database_unavailable")
    assert await acoupon_state(coupon.id) == (5, 5, 0)

    retried = await api.post("/v1/redemptions/", json=body, headers=headers)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await acoupon_state(coupon.id) == (5, 4, 1)
