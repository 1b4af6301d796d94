"""SIGTERM during a burst: uvicorn stops accepting, finishes what it started, closes; every
request either completed (and then its row exists) or was refused cleanly (nothing
written), and the invariant holds."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest

from access.services import api_keys
from coupons.models import Redemption
from tests.factories import broken_invariants, coupon_state, make_coupon
from tests.servers import running_servers

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_sigterm_during_a_burst_leaves_nothing_half_done(tmp_path: Path) -> None:
    coupon = make_coupon("SHUTDOWN", init_count=100_000)
    _, key = api_keys.create_api_key(name="shutdown", scope="redeem")

    with running_servers(1, tmp_path) as [server]:

        async def burst() -> list[httpx.Response | Exception]:
            limits = httpx.Limits(max_connections=300, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as c:
                done = 0
                some_done = asyncio.Event()

                async def one() -> httpx.Response | Exception:
                    nonlocal done
                    try:
                        response = await c.post(
                            "/v1/redemptions/",
                            json={"code": "SHUTDOWN"},
                            headers={"Authorization": f"Bearer {key}"},
                        )
                    except httpx.TransportError as exc:
                        return exc
                    done += 1
                    if done == 50:
                        some_done.set()
                    return response

                tasks = [asyncio.create_task(one()) for _ in range(600)]
                await asyncio.wait_for(some_done.wait(), timeout=30)
                server.process.send_signal(signal.SIGTERM)  # mid-burst
                return await asyncio.gather(*tasks)

        answers = asyncio.run(burst())
        exit_code = server.process.wait(timeout=30)

    completed = [a for a in answers if isinstance(a, httpx.Response)]
    refused = [a for a in answers if not isinstance(a, httpx.Response)]
    statuses = Counter(a.status_code for a in completed)
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[201] > 0 and refused, (statuses, len(refused))  # it really cut a burst
    ids = {a.json()["id"] for a in completed if a.status_code == 201}
    assert (
        set(str(i) for i in Redemption.objects.filter(coupon=coupon).values_list("id", flat=True))
        == ids
    )
    assert coupon_state(coupon.id) == (100_000, 100_000 - len(ids), len(ids))
    assert broken_invariants() == []
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert exit_code in (0, -signal.SIGTERM)
    log = server.log.read_text()
    assert "Waiting for application shutdown" in log or "Finished server process" in log
    assert "Traceback" not in log, log[-3000:]
    kinds = Counter(type(a).__name__ for a in refused)
    print(f"\nSIGTERM mid-burst: {dict(statuses)} answered, refused: {dict(kinds)}")
