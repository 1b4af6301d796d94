"""Chaos: a steady stream of keyed redemptions against a live server while its database
connections are killed several times and its PostgreSQL (a throwaway cluster of this
test's own) is stopped and started again. Afterwards every invariant holds, every 201 the
client saw has its row, no Idempotency-Key had two effects, and the service is healthy
again without a restart. Bounded in time; loopback only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.cluster import ThrowawayCluster
from tests.servers import ROOT, Server, running_servers

pytestmark = pytest.mark.postgres

SERVER_ENV = {
    "DB_POOL_MIN_SIZE": "2",
    "DB_POOL_MAX_SIZE": "8",
    "DB_POOL_TIMEOUT": "2",
    "DB_CONNECT_TIMEOUT": "2",
    "DB_STATEMENT_TIMEOUT_MS": "3000",
    "LOG_LEVEL": "WARNING",
}


def manage(cluster: ThrowawayCluster, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": cluster.url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    cluster = ThrowawayCluster()
    try:
        cluster.create()
        manage(cluster, "migrate", "-v0")
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def server(cluster: ThrowawayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**SERVER_ENV, "DATABASE_URL": cluster.url}
    with running_servers(1, tmp_path_factory.mktemp("chaos"), **env) as servers:
        yield servers[0]


class Ledger:
    """What the client saw, per Idempotency-Key."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
        self.statuses: Counter[int | str] = Counter()
        self.successes: list[float] = []

    def note(self, key: str, status: int | str, body: bytes = b"") -> None:
        self.statuses[status] += 1
        if isinstance(status, int):
            self.answers[key].append((status, body))
            if status == 201:
                self.successes.append(time.monotonic())


DEFINITE = {201, 409}


async def redeem_until_answered(
    client: httpx.AsyncClient, ledger: Ledger, code: str, deadline: float
) -> None:
    key = f"chaos-{uuid.uuid4()}"
    while time.monotonic() < deadline:
        try:
            response = await client.post(
                "/v1/redemptions/", json={"code": code}, headers={"Idempotency-Key": key}
            )
        except httpx.TransportError as exc:
            ledger.note(key, type(exc).__name__)
        else:
            ledger.note(key, response.status_code, response.content)
            if response.status_code in DEFINITE:
                return
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
        await asyncio.sleep(0.1)  # the client backs off a little, then retries the same key


async def stream(server: Server, bearer: dict[str, str], ledger: Ledger, stop_at: float) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=bearer, timeout=15) as client:

        async def worker(code: str) -> None:
            while time.monotonic() < stop_at:
                await redeem_until_answered(client, ledger, code, deadline=stop_at + 30)

        await asyncio.gather(*(worker("CHAOS" if i % 4 else "SMALL") for i in range(12)))


async def chaos(cluster: ThrowawayCluster, faults: list[tuple[str, float]]) -> None:
    for _ in range(3):
        await asyncio.sleep(1.5)
        killed = await asyncio.to_thread(cluster.kill_connections)
        faults.append((f"killed {killed} connections", time.monotonic()))
    await asyncio.sleep(1.5)
    await asyncio.to_thread(cluster.stop, "fast")
    faults.append(("stopped PostgreSQL", time.monotonic()))
    await asyncio.sleep(3)
    await asyncio.to_thread(cluster.start)
    faults.append(("started PostgreSQL", time.monotonic()))


def test_redemptions_survive_killed_connections_and_a_database_restart(
    cluster: ThrowawayCluster, server: Server
) -> None:
    key = manage(cluster, "create_api_key", "chaos", "--scope", "manage")
    bearer = {"Authorization": f"Bearer {key}"}
    for code, uses in (("CHAOS", 1_000_000), ("SMALL", 40)):
        created = httpx.post(
            f"{server.url}/v1/coupons/", json={"code": code, "init_count": uses}, headers=bearer
        )
        assert created.status_code == 201, created.text

    ledger, faults = Ledger(), list[tuple[str, float]]()

    async def scenario() -> None:
        stop_at = time.monotonic() + 16
        await asyncio.gather(stream(server, bearer, ledger, stop_at), chaos(cluster, faults))

    asyncio.run(scenario())

    # Every key got a definite answer, and the same one each time it was answered.
    unanswered = [k for k, a in ledger.answers.items() if not any(s in DEFINITE for s, _ in a)]
    assert not unanswered, f"{len(unanswered)} keys never answered"
    effects = {}
    for k, answers in ledger.answers.items():
        definite = {body for status, body in answers if status in DEFINITE}
        assert len(definite) == 1, f"{k} had different answers: {definite}"
        status, body = next((s, b) for s, b in answers if s in DEFINITE)
        if status == 201:
            effects[k] = httpx.Response(201, content=body).json()["id"]
    # Only 201, 409 (SMALL ran out) and 503 during the faults; never another 5xx.
    assert set(ledger.statuses) - {201, 409, 503, "ConnectError", "ReadError"} == set(), (
        ledger.statuses
    )
    # Every 201 has its row, and there is no row without a 201: one effect per key.
    rows = set(cluster.sql("SELECT id FROM coupons_redemption").split())
    assert rows == set(effects.values())
    assert len(set(effects.values())) == len(effects)
    broken = cluster.sql(
        "SELECT count(*) FROM coupons_coupon c WHERE c.init_count - c.remaining_count <> "
        "(SELECT count(*) FROM coupons_redemption r "
        "WHERE r.coupon_id = c.id AND r.reverted_at IS NULL)"
    )
    assert broken == "0"
    assert cluster.sql("SELECT remaining_count FROM coupons_coupon WHERE code = 'SMALL'") == "0"
    # Healthy again, same server process: ready, and a new redemption goes through.
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    again = httpx.post(f"{server.url}/v1/redemptions/", json={"code": "CHAOS"}, headers=bearer)
    assert again.status_code == 201, again.text
    assert server.process.poll() is None
    assert "Traceback" not in Path(server.log).read_text()

    report = [f"requests {sum(ledger.statuses.values())}: {dict(ledger.statuses)}"]
    for what, at in faults:
        later = [t for t in ledger.successes if t > at]
        recovery = f"{later[0] - at:.2f} s" if later else "no 201 after it"
        report.append(f"{what}: next 201 after {recovery}")
    print("\nchaos report:\n  " + "\n  ".join(report))


def test_readyz_is_503_while_the_database_is_away_and_200_after(
    cluster: ThrowawayCluster, server: Server
) -> None:
    cluster.stop("fast")
    try:
        started = time.monotonic()
        away = httpx.get(f"{server.url}/readyz", timeout=15)
        took = time.monotonic() - started
        assert away.status_code == 503
        assert away.json()["code"] == "database_unavailable"
        assert away.headers["retry-after"]
        assert took < 5  # bounded by DB_CONNECT_TIMEOUT / DB_POOL_TIMEOUT, never a hang
        alive = httpx.get(f"{server.url}/healthz")
        assert alive.status_code == 200  # the process itself is fine
    finally:
        cluster.start()
    deadline = time.monotonic() + 15
    while httpx.get(f"{server.url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready 15 s after the database came back"
        time.sleep(0.2)
