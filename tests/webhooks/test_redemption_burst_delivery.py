"""Issue 17's burst, end to end: 400 redemptions at once on two server processes give 400
`redemption.created` events in the log, which two worker processes deliver, signed, each
exactly once, to a receiver that deduplicates by `Coupon-Event-Id`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from access.services import api_keys
from tests.coupons.concurrency.test_bursts import fire, warm_up
from tests.events.helpers import wait_for_log
from tests.factories import broken_invariants, coupon_state, make_coupon
from tests.servers import Server, running_servers
from tests.webhooks.readme import readme_verify_signature
from tests.webhooks.receiver import Receiver, running_receiver
from tests.webhooks.test_worker_delivery import ready, spawn_worker, stop

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BURST = 400
# 10 codes, 40 redemptions each. Three have exactly 40 uses: their last use is taken in
# the burst, by the general path (which also writes `coupon.exhausted`), not the one-
# statement fast path; one has a per-customer limit, so all of its redemptions take the
# general path; the rest have uses to spare and take the fast path.
CODES = [("LAST-USE", 40, None)] * 3 + [("PER-CUSTOMER", 100, 1)] + [("SPARE", 100, None)] * 6
DEADLINE_SECONDS = 30.0


def wait_until(condition: Callable[[], bool], what: Callable[[], str]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.1)


def follow(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paged list, following `next` until a page is empty or has none."""
    found: list[dict[str, Any]] = []
    with httpx.Client(headers=headers, timeout=10) as client:
        while url:
            response = client.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            if not page["results"]:
                break
            found.extend(page["results"])
            url = page["next"]
    return found


def redemption_events(server: Server, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The log's `redemption.created` events, read as a client does, once every
    transaction begun so far has ended (the log holds back events behind older ones)."""
    wait_for_log(timeout=DEADLINE_SECONDS)
    url = f"{server.url}/v1/events/?type=redemption.created&page_size=100"
    return follow(url, headers)


def deduplicated(receiver: Receiver, secret: str) -> dict[str, dict[str, Any]]:
    """What a receiver following README keeps: each verified event once, by its id."""
    verify_signature = readme_verify_signature()
    kept: dict[str, dict[str, Any]] = {}
    for request in list(receiver.received):
        assert verify_signature(secret, request.headers["coupon-signature"], request.body)
        event = json.loads(request.body)
        assert event["id"] == request.headers["coupon-event-id"]
        assert event["type"] == request.headers["coupon-event-type"] == "redemption.created"
        kept.setdefault(event["id"], event)
    return kept


@pytest.fixture
def manage_key(transactional_db: None) -> dict[str, str]:
    _, key = api_keys.create_api_key(name="burst-webhooks", scope="manage")
    return {"Authorization": f"Bearer {key}"}


def test_a_burst_of_400_redemptions_is_400_events_each_delivered_exactly_once(
    manage_key: dict[str, str], tmp_path: Path
) -> None:
    coupons = [
        make_coupon(f"{name}-{n}", init_count=uses, per_customer_limit=limit)
        for n, (name, uses, limit) in enumerate(CODES)
    ]
    # Loopback http allowed, to create the endpoint; no admin here, so no collectstatic.
    env = {
        "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
        "DJANGO_STATIC_ROOT": str(tmp_path),
    }  # fmt: skip
    workers: list[subprocess.Popen[bytes]] = []
    with (
        running_receiver() as receiver,
        running_servers(2, tmp_path, **env) as servers,
    ):
        try:
            created = httpx.post(
                f"{servers[0].url}/v1/webhook-endpoints/",
                json={"url": receiver.url, "events": ["redemption.created"]},
                headers=manage_key,
                timeout=10,
            )
            assert created.status_code == 201, created.text
            endpoint = created.json()
            workers = [spawn_worker(tmp_path, f"worker-{n}") for n in range(2)]
            for n, worker in enumerate(workers):
                ready(worker, tmp_path / f"worker-{n}.log")
            warm_up(servers, manage_key, coupons[0])
            requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
                (
                    # Each code gets requests on both servers.
                    f"{servers[(i // len(CODES)) % 2].url}/v1/redemptions/",
                    {"code": coupons[i % len(CODES)].code, "customer_id": f"c-{i}"},
                    {},
                )
                for i in range(BURST)
            ]

            answers = asyncio.run(fire(requests, manage_key))

            assert Counter(a.status_code for a in answers) == {201: BURST}, [
                a.text for a in answers if a.status_code != 201
            ][:5]
            redemption_ids = {a.json()["id"] for a in answers}
            assert len(redemption_ids) == BURST
            assert len({a.request.url.port for a in answers}) == 2

            wait_until(
                lambda: len(set(receiver.event_ids())) >= BURST,
                lambda: f"{len(set(receiver.event_ids()))} of {BURST} events delivered",
            )
            deliveries_url = f"{servers[1].url}/v1/webhook-endpoints/{endpoint['id']}/deliveries/"
            wait_until(
                lambda: (
                    Counter(d["status"] for d in follow(deliveries_url, manage_key))
                    == {"succeeded": BURST}
                ),
                lambda: str(Counter(d["status"] for d in follow(deliveries_url, manage_key))),
            )
        finally:
            # Stopped before counting: no request can arrive after the count is taken.
            for worker in workers:
                stop(worker)
        events = redemption_events(servers[1], manage_key)
        attempts = follow(deliveries_url, manage_key)

    # The log: one event per redemption answered 201, and nothing else.
    assert len(events) == BURST
    assert {e["data"]["id"] for e in events} == redemption_ids
    event_ids = {e["id"] for e in events}
    assert len(event_ids) == BURST
    # The receiver: each verified, the very events of the log, each arrived once.
    kept = deduplicated(receiver, endpoint["secret"])
    assert set(kept) == event_ids
    assert {e["data"]["id"] for e in kept.values()} == redemption_ids
    arrivals = Counter(receiver.event_ids())
    assert [event_id for event_id, times in arrivals.items() if times > 1] == []
    assert sum(arrivals.values()) == BURST
    # The endpoint's delivery log: one first attempt per event, each succeeded.
    assert sorted((a["event_id"], a["attempt"], a["status"]) for a in attempts) == sorted(
        (event_id, 1, "succeeded") for event_id in event_ids
    )
    # The codes: every use sold once, the exact ones to the last.
    for coupon, (_, uses, _) in zip(coupons, CODES, strict=True):
        assert coupon_state(coupon.id) == (uses, uses - BURST // len(CODES), BURST // len(CODES))
    assert broken_invariants() == []
    for log in [*(s.log for s in servers), *tmp_path.glob("worker-*.log")]:
        assert "Traceback" not in log.read_text(), log.read_text()[-4000:]
