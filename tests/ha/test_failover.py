"""A failover under load loses no acknowledged write: keyed redemptions, holds and confirms
through two server processes against a campaign with a budget, on the Patroni cluster
bin/with-ha starts (`make test-ha`), during a planned switchover and then a kill -9 of the
primary's postmaster. After each: every 201 is in the ledger, every key had one effect,
the counters, the budget and the events are exact, the events log read by `next` skipped
none, no 500, no request waited past the pool's timeout plus the statement timeout. Then the
worker sweeps a hold that expired after the failover and delivers an event created after
it. Skipped elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from config.db import check_pooled_connection
from tests.ha.cluster import HaCluster
from tests.servers import ROOT, Server, running_servers, server_env
from tests.webhooks.receiver import Receiver, running_receiver

pytestmark = pytest.mark.postgres

POOL_TIMEOUT = 5  # DB_POOL_TIMEOUT
STATEMENT_TIMEOUT = 3  # DB_STATEMENT_TIMEOUT_MS / 1000
# The longest a request may take: its wait for a connection, then its statement's (a write
# queued behind the campaign's row lock when the primary dies); measured up to 6.6 s.
LONGEST_ANSWER = POOL_TIMEOUT + STATEMENT_TIMEOUT
SERVER_ENV = {
    "DB_POOL_MIN_SIZE": "2",
    "DB_POOL_MAX_SIZE": "8",
    "DB_POOL_TIMEOUT": str(POOL_TIMEOUT),
    "DB_CONNECT_TIMEOUT": "2",
    "DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT * 1000),
    "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
    "WEBHOOK_ALLOW_HTTP": "1",
    "SWEEP_INTERVAL_SECONDS": "1",
    "WEBHOOK_INTERVAL_SECONDS": "0.5",
    "LOG_LEVEL": "WARNING",
}
CLIENTS = 10
LOAD_BEFORE_FAULT = 3.0  # seconds of load before the fault, and after the first 201 past it
PRICE, DISCOUNT = 5_000, 100  # minor units: every order, and the campaign's amount off
FINAL = {201, 409}  # a final answer; 503 (and only 503) is retried with the same key


@pytest.fixture(scope="module")
def cluster() -> HaCluster:
    found = HaCluster.from_environment()
    if found is None:
        pytest.skip("needs the Patroni cluster of bin/with-ha: make test-ha")
    return found


def manage(cluster: HaCluster, *args: str) -> str:
    env = {**server_env(**SERVER_ENV, DATABASE_URL=cluster.url)}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture(scope="module")
def bearer(cluster: HaCluster) -> dict[str, str]:
    manage(cluster, "migrate", "-v0")
    key = manage(cluster, "create_api_key", "ha", "--scope", "manage")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def servers(
    cluster: HaCluster, bearer: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    env = {**SERVER_ENV, "DATABASE_URL": cluster.url}
    with running_servers(2, tmp_path_factory.mktemp("ha"), **env) as started:
        yield started


@pytest.fixture(scope="module")
def worker(cluster: HaCluster, bearer: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("ha-worker") / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--poll", "0.2"],
        cwd=ROOT, env=server_env(**SERVER_ENV, DATABASE_URL=cluster.url),
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield process, log
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Ledger:
    """What the clients saw: every answer by key, when, and how long it took."""

    answers: dict[str, list[tuple[int | str, bytes]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    statuses: Counter[int | str] = field(default_factory=Counter)
    timeline: list[tuple[float, int | str]] = field(default_factory=list)
    slowest: float = 0.0
    slow: list[str] = field(default_factory=list)  # answers that took past the pool's timeout
    redemptions: dict[str, str] = field(default_factory=dict)  # key -> redemption id (201)
    holds: dict[str, str] = field(default_factory=dict)  # key -> reservation id (201)

    def note(self, key: str, status: int | str, body: bytes, took: float, path: str) -> None:
        if took >= LONGEST_ANSWER:
            self.slow.append(f"{path} {status} in {took:.1f} s at {time.monotonic():.1f}")
        self.answers[key].append((status, body))
        self.statuses[status] += 1
        self.timeline.append((time.monotonic(), status))
        self.slowest = max(self.slowest, took)

    def recovery(self, fault_at: float) -> tuple[float | None, float | None]:
        """(seconds from the fault to the first 503, from that 503 to the next 201)."""
        after = [(t, s) for t, s in self.timeline if t >= fault_at]
        first_outage = next((t for t, s in after if s not in FINAL), None)
        if first_outage is None:
            return None, None
        back = next((t for t, s in after if t > first_outage and s == 201), None)
        return first_outage - fault_at, (back - first_outage if back else None)


async def until_final(
    client: httpx.AsyncClient, ledger: Ledger, path: str, body: dict[str, Any]
) -> httpx.Response:
    """POST with an Idempotency-Key, retried with the same key until a final answer."""
    key = f"ha-{uuid.uuid4()}"
    deadline = time.monotonic() + 90
    while True:
        started = time.monotonic()
        try:
            response = await client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            ledger.note(key, type(exc).__name__, b"", time.monotonic() - started, path)
        else:
            ledger.note(
                key, response.status_code, response.content, time.monotonic() - started, path
            )
            if response.status_code in FINAL:
                redeemed = path == "/v1/redemptions/" or path.endswith("/confirm/")
                if response.status_code == 201 and redeemed:
                    ledger.redemptions[key] = response.json()["id"]
                elif response.status_code == 201:
                    ledger.holds[key] = response.json()["id"]
                return response
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
        assert time.monotonic() < deadline, f"{key} got no final answer in 90 s"
        await asyncio.sleep(0.2)  # a little back-off, then the same key again


def order(customer: str) -> dict[str, Any]:
    return {"customer_id": customer, "order": {"amount": PRICE, "currency": "EUR"}}


async def client_loop(
    server: Server, bearer: dict[str, str], ledger: Ledger, number: int, stop: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=bearer, timeout=30) as client:
        for turn in itertools.count():
            if stop.is_set():
                return
            code = "HA-SMALL" if turn % 7 == 3 else f"HA-{number % 3}"
            body = {"code": code, **order(f"c-{number}-{turn}")}
            kind = (number + turn) % 3
            if kind == 0:
                await until_final(client, ledger, "/v1/redemptions/", body)
            else:
                held = await until_final(
                    client, ledger, "/v1/reservations/", {**body, "ttl_seconds": 600}
                )
                if kind == 1 and held.status_code == 201:
                    hold_id = held.json()["id"]
                    await until_final(client, ledger, f"/v1/reservations/{hold_id}/confirm/", {})
            await asyncio.sleep(0.02)


@dataclass
class LogReader:
    """A client of GET /v1/events/ that only ever follows `next` (503s retried)."""

    seen: list[str] = field(default_factory=list)
    url: str = "/v1/events/?page_size=200"

    async def read(self, client: httpx.AsyncClient, *, until_empty: bool) -> None:
        while True:
            response = await client.get(self.url)
            if response.status_code == 503:
                await asyncio.sleep(0.2)
                continue
            assert response.status_code == 200, response.text
            page = response.json()
            self.seen.extend(event["id"] for event in page["results"])
            self.url = page["next"]
            if not page["results"]:
                if until_empty:
                    return
                await asyncio.sleep(0.3)

    async def follow(self, server: Server, bearer: dict[str, str], stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=server.url, headers=bearer, timeout=30) as client:
            reading = asyncio.create_task(self.read(client, until_empty=False))
            await stop.wait()
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    async def catch_up(
        self, server: Server, bearer: dict[str, str], expected: set[str], seconds: float = 20
    ) -> None:
        """Go on following `next` until every event in `expected` was read: an empty page
        only says the log is held back by a running transaction, not that it is done. An
        event the cursor stepped over never comes, and the deadline passes."""
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=server.url, headers=bearer, timeout=30) as client:
            while not expected <= set(self.seen) and time.monotonic() < deadline:
                await self.read(client, until_empty=True)
                await asyncio.sleep(0.2)


async def under_load(
    servers: list[Server],
    bearer: dict[str, str],
    ledger: Ledger,
    reader: LogReader,
    fault: Callable[[], object],
) -> float:
    """Load on both servers; the fault after a while; the load goes on until a 201 came
    after the fault, then a little longer; then every client finishes its key. When."""
    stop = asyncio.Event()
    clients = [
        asyncio.create_task(client_loop(servers[n % 2], bearer, ledger, n, stop))
        for n in range(CLIENTS)
    ]
    reading = asyncio.create_task(reader.follow(servers[1], bearer, stop))
    await asyncio.sleep(LOAD_BEFORE_FAULT)
    fault_at = time.monotonic()
    await asyncio.to_thread(fault)
    deadline = time.monotonic() + 90
    while not any(t > fault_at and s == 201 for t, s in ledger.timeline[-200:]):
        assert time.monotonic() < deadline, "no 201 in 90 s after the fault"
        await asyncio.sleep(0.2)
    await asyncio.sleep(LOAD_BEFORE_FAULT)
    stop.set()
    await asyncio.gather(*clients)
    await reading
    return fault_at


def assert_nothing_lost(
    cluster: HaCluster, ledger: Ledger, reader: LogReader, server: Server, bearer: dict[str, str]
) -> None:
    # No 500, no other error, no dropped connection: 201, 409 and 503 only.
    assert set(ledger.statuses) <= {201, 409, 503}, ledger.statuses
    assert ledger.slowest < LONGEST_ANSWER, ledger.slow
    # Each key: one final answer, the same every time it was given.
    for key, answers in ledger.answers.items():
        finals = {(status, body) for status, body in answers if status in FINAL}
        assert len(finals) == 1, f"{key}: {finals}"
    # Every 201 is in the ledger, and nothing is there without its 201: one effect a key.
    redemptions = {str(r) for (r,) in cluster.rows("SELECT id FROM coupons_redemption")}
    holds = {str(r) for (r,) in cluster.rows("SELECT id FROM coupons_reservation")}
    assert set(ledger.redemptions.values()) == redemptions
    assert len(ledger.redemptions) == len(redemptions)
    assert set(ledger.holds.values()) == holds
    assert len(ledger.holds) == len(holds)
    # The coupons: spent uses are live redemptions plus live holds.
    broken = cluster.rows(
        """SELECT c.code, c.init_count - c.remaining_count,
                  (SELECT count(*) FROM coupons_redemption r
                    WHERE r.coupon_id = c.id AND r.reverted_at IS NULL),
                  c.held_count,
                  (SELECT count(*) FROM coupons_reservation h
                    WHERE h.coupon_id = c.id AND h.status = 'held')
             FROM coupons_coupon c"""
    )
    for code, spent, live, held_count, held in broken:
        assert spent == live + held and held_count == held, (code, spent, live, held_count, held)
    # The campaign: its counters and its budget, exactly.
    counters, actual = cluster.rows(
        """SELECT (k.redemption_count, k.held_count, k.discount_total, k.budget_amount),
                  ((SELECT count(*) FROM coupons_redemption r JOIN coupons_coupon c
                     ON c.id = r.coupon_id WHERE c.campaign_id = k.id AND r.reverted_at IS NULL),
                   (SELECT count(*) FROM coupons_reservation h JOIN coupons_coupon c
                     ON c.id = h.coupon_id WHERE c.campaign_id = k.id AND h.status = 'held'),
                   (SELECT coalesce(sum(r.discount_amount), 0) FROM coupons_redemption r
                     JOIN coupons_coupon c ON c.id = r.coupon_id
                     WHERE c.campaign_id = k.id AND r.reverted_at IS NULL)
                   + (SELECT coalesce(sum(h.discount_amount), 0) FROM coupons_reservation h
                     JOIN coupons_coupon c ON c.id = h.coupon_id
                     WHERE c.campaign_id = k.id AND h.status = 'held'))
             FROM coupons_campaign k"""
    )[0]
    counters, actual = tuple(map(int, counters)), tuple(map(int, actual))
    assert counters[:3] == actual, (counters, actual)
    assert 0 <= counters[2] <= counters[3]  # never past the budget
    # Each change has exactly one event.
    for kind, table, where in (
        ("redemption.created", "coupons_redemption", "TRUE"),
        ("reservation.created", "coupons_reservation", "TRUE"),
        ("reservation.confirmed", "coupons_reservation", "status = 'confirmed'"),
    ):
        events = [
            r for (r,) in cluster.rows(
                f"SELECT data->>'id' FROM coupons_event WHERE type = '{kind}'"
            )
        ]  # fmt: skip
        rows = {str(r) for (r,) in cluster.rows(f"SELECT id FROM {table} WHERE {where}")}
        assert len(events) == len(set(events)) and set(events) == rows, kind
    # The log read by `next` had each event once, and skipped none.
    every = {str(r) for (r,) in cluster.rows("SELECT id FROM coupons_event")}
    asyncio.run(reader.catch_up(server, bearer, every))
    assert len(reader.seen) == len(set(reader.seen)), "an event was read twice"
    assert set(reader.seen) == every, f"{len(every - set(reader.seen))} events never read"


def set_up_campaign(server: Server, bearer: dict[str, str]) -> None:
    campaign = httpx.post(
        f"{server.url}/v1/campaigns/",
        json={
            "name": "HA",
            "discount": {"amount_off": DISCOUNT, "currency": "EUR"},
            "budget": {"amount": DISCOUNT * 50_000, "currency": "EUR"},
        },
        headers=bearer,
    )
    assert campaign.status_code == 201, campaign.text
    for code, uses in (("HA-0", 100_000), ("HA-1", 100_000), ("HA-2", 100_000), ("HA-SMALL", 25)):
        made = httpx.post(
            f"{server.url}/v1/coupons/",
            json={"code": code, "init_count": uses, "campaign_id": campaign.json()["id"]},
            headers=bearer,
        )
        assert made.status_code == 201, made.text


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.2)


def test_a_switchover_and_a_killed_primary_under_load_lose_no_acknowledged_write(
    cluster: HaCluster, bearer: dict[str, str], servers: list[Server], worker: Any
) -> None:
    set_up_campaign(servers[0], bearer)
    ledger, reader = Ledger(), LogReader()
    report = []

    faults: list[tuple[str, Callable[[], object]]] = [
        ("switchover (patronictl switchover --force)", cluster.switchover),
        ("failover (kill -9 of the primary's postmaster)", cluster.kill_primary),
    ]
    for what, fault in faults:
        before = cluster.wait_for_leader()
        cluster.wait_until_healthy()
        fault_at = asyncio.run(under_load(servers, bearer, ledger, reader, fault))
        print(f"\n{what} at {fault_at:.1f}")
        after = cluster.wait_for_leader(other_than=before.name)
        assert_nothing_lost(cluster, ledger, reader, servers[1], bearer)
        to_outage, to_201 = ledger.recovery(fault_at)
        report.append(
            f"{what}: {before.name} -> {after.name}; first 503 "
            + (f"{to_outage:.2f} s after the fault, next 201 {to_201:.2f} s after it"
               if to_outage is not None and to_201 is not None else "never (no outage seen)")
        )  # fmt: skip

    # The worker came through the failover: it sweeps a hold that expires now, and delivers
    # an event created now.
    process, worker_log = worker
    with running_receiver() as receiver:
        assert_worker_recovered(servers[0], bearer, receiver)
    assert process.poll() is None, worker_log.read_text()[-3000:]
    for server in servers:
        assert server.process.poll() is None
        assert "Traceback" not in Path(server.log).read_text(), Path(server.log).read_text()[-3000:]

    report.append(f"answers: {dict(ledger.statuses)}; slowest {ledger.slowest:.2f} s")
    print("\nha report:\n  " + "\n  ".join(report))
    recorded = os.environ.get("HA_REPORT")
    if recorded:
        with open(recorded, "a") as out:
            out.write(json.dumps(report) + "\n")


def assert_worker_recovered(server: Server, bearer: dict[str, str], receiver: Receiver) -> None:
    endpoint = httpx.post(
        f"{server.url}/v1/webhook-endpoints/",
        json={"url": receiver.url, "events": ["coupon.created"]},
        headers=bearer,
    )
    assert endpoint.status_code == 201, endpoint.text
    created = httpx.post(
        f"{server.url}/v1/coupons/", json={"code": "HA-AFTER", "init_count": 1}, headers=bearer
    )
    assert created.status_code == 201, created.text
    hold = httpx.post(
        f"{server.url}/v1/reservations/",
        json={"code": "HA-AFTER", "ttl_seconds": 1},
        headers=bearer,
    )
    assert hold.status_code == 201, hold.text

    def uses_left() -> int:
        coupon = httpx.get(f"{server.url}/v1/coupons/{created.json()['id']}/", headers=bearer)
        return int(coupon.json()["remaining_count"]) if coupon.status_code == 200 else -1

    # A hold past its expiry READS as expired at once; its use comes back when the worker
    # sweeps it, which is what this waits for.
    wait_for(lambda: uses_left() == 1, 30, "the expired hold swept (its use given back)")
    wait_for(lambda: bool(receiver.event_ids()), 30, "the event delivered")
    body = json.loads(receiver.received[0].body)
    assert body["type"] == "coupon.created" and body["data"]["code"] == "HA-AFTER"


def test_the_pool_discards_a_connection_to_a_standby(cluster: HaCluster) -> None:
    cluster.wait_until_healthy()
    leader = cluster.wait_for_leader()
    standby = next(node for node in cluster.nodes if node.name != leader.name)
    with psycopg.connect(
        f"postgres://postgres@127.0.0.1:{standby.port}/coupons", connect_timeout=5
    ) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        with pytest.raises(psycopg.OperationalError, match="standby"):
            check_pooled_connection(conn)
    with psycopg.connect(cluster.url, connect_timeout=5) as conn:
        check_pooled_connection(conn)  # the primary, which the multi-host URL finds
        assert conn.info.port == leader.port
