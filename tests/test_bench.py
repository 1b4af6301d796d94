"""The load test's own harness (bench/run.py): a server that cannot start says why."""

from __future__ import annotations

import time

import pytest

from bench import run, scenarios


def test_a_server_that_fails_to_start_is_reported_with_its_log_at_once():
    started = time.monotonic()
    with pytest.raises(SystemExit) as failure:
        run.start("bench.no_such_module:app", key="unused")

    message = str(failure.value)
    assert "did not start" in message
    assert "no_such_module" in message  # uvicorn's import error, from the server's log
    assert time.monotonic() - started < 10  # not the full minute of polling a dead process


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


def test_every_scenario_is_measured_against_a_scenario_or_the_yardstick_and_wrk_sends_it():
    kinds = {kind for _, kind, _ in run.SCENARIOS}
    assert len(kinds) == len(run.SCENARIOS)
    for _, kind, base in run.SCENARIOS:
        assert base is None or base == "" or base in kinds, kind
        assert f'kind == "{kind}"' in run.LUA or kind == "get", kind
    assert "_BODY," not in run.LUA and "_BODY)" not in run.LUA  # every pattern filled in


@pytest.mark.parametrize("kind", ["cart-validate", "cart-redeem", "group", "flash"])
def test_the_lua_pattern_of_a_body_formats_to_the_body_the_tests_send(kind):
    # Lua's string.format("%05d") is C's, as Python's %: the pattern gives the same bytes.
    pattern = scenarios.lua_template(kind).replace('\\"', '"')
    assert pattern.count("%") == (2 if kind == "group" else 0 if kind == "flash" else 1)
    assert pattern % ((7,) * pattern.count("%")) == scenarios.body(kind, 7)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
async def test_the_cart_and_group_bodies_are_priced_as_the_scenarios_mean(api, redeem):
    """What wrk sends for the cart and group scenarios: 15 % off the shoes of a 10-line
    cart, allocated to the unit; two codes that combine, redeemed as one group."""
    from asgiref.sync import sync_to_async

    from coupons.services.coupons import create_coupon

    for prefix, discount in scenarios.TEMPLATES.items():
        await sync_to_async(create_coupon)(code=f"{prefix}-00007", init_count=5, discount=discount)
    send = {**redeem, "Content-Type": "application/json"}
    off = scenarios.cart_discount(scenarios.CART, 15)
    assert off > 0

    valid = await api.post(
        "/v1/validations/", content=scenarios.body("cart-validate", 7), headers=send
    )
    assert (valid.status_code, valid.json()["valid"], valid.json()["discount_amount"]) == (
        200,
        True,
        off,
    )
    assert len(valid.json()["allocations"]) == 10

    spent = await api.post(
        "/v1/redemptions/", content=scenarios.body("cart-redeem", 7), headers=send
    )
    assert (spent.status_code, spent.json()["discount_amount"]) == (201, off)
    assert sum(a["amount"] for a in spent.json()["allocations"]) == off

    group = await api.post(
        "/v1/redemption-groups/", content=scenarios.body("group", 7), headers=send
    )
    assert group.status_code == 201, group.json()
    assert [r["code"] for r in group.json()["redemptions"]] == ["GP-00007", "GO-00007"]
    assert all(r["discount_amount"] > 0 for r in group.json()["redemptions"])
