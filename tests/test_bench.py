"""The load test's own harness (bench/run.py): a server that cannot start says why."""

from __future__ import annotations

import time

import pytest

from bench import run


def test_a_server_that_fails_to_start_is_reported_with_its_log_at_once():
    started = time.monotonic()
    with pytest.raises(SystemExit) as failure:
        run.start("bench.no_such_module:app", key="unused")

    message = str(failure.value)
    assert "did not start" in message
    assert "no_such_module" in message  # uvicorn's import error, from the server's log
    assert time.monotonic() - started < 10  # not the full 15 s of polling a dead process


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
async def test_the_yardsticks_hold_then_confirm_keeps_the_invariant(monkeypatch):
    """The yardstick's hold and confirm are the same work as the service's (else the bench's
    ratio compares unlike things): a use held, then turned into a redemption."""
    import importlib

    import httpx
    from asgiref.sync import sync_to_async
    from django.db import connections

    from tests.factories import broken_invariants, make_coupon
    from tests.servers import test_database_url

    coupon = await sync_to_async(make_coupon)("SPREAD-00001", init_count=5)
    monkeypatch.setenv("DATABASE_URL", test_database_url())
    monkeypatch.setenv("BENCH_KEYS", "k")
    yardstick = importlib.reload(importlib.import_module("bench.yardstick"))
    transport = httpx.ASGITransport(app=yardstick.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            auth = {"Authorization": "Bearer k"}
            held = await client.post(
                "/v1/reservations/", json={"code": "spread-00001"}, headers=auth
            )
            assert held.status_code == 201 and held.json()["status"] == "held"
            assert await sync_to_async(broken_invariants)() == []
            done = await client.post(f"/v1/reservations/{held.json()['id']}/confirm/", headers=auth)
            again = await client.post(
                f"/v1/reservations/{held.json()['id']}/confirm/", headers=auth
            )
    finally:
        await yardstick.pool.close()
    assert (done.status_code, again.status_code) == (201, 409)
    await sync_to_async(coupon.refresh_from_db)()
    assert (coupon.remaining_count, coupon.held_count) == (4, 0)
    assert await sync_to_async(broken_invariants)() == []
    await sync_to_async(connections.close_all)()  # asgiref's thread's, so the DB can be dropped
