"""Delivery by real `manage.py run_worker` processes: a worker killed mid-batch loses
nothing (the next one sends the batch again once its lease has run out), and two workers
deliver a burst of 400 events each exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction

from events.services.outbox import record_event
from tests.servers import ROOT, server_env
from tests.webhooks.receiver import running_receiver
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.services.endpoints import create_endpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings, on_postgres):
    if not on_postgres:
        pytest.skip("the worker processes need PostgreSQL")
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


def start_worker(log_dir: Path, name: str, **env: str) -> subprocess.Popen[bytes]:
    return ready(spawn_worker(log_dir, name, **env), log_dir / f"{name}.log")


def spawn_worker(log_dir: Path, name: str, **env: str) -> subprocess.Popen[bytes]:
    log = log_dir / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--poll", "0.1"],
        cwd=ROOT,
        env=server_env(**{
            "DJANGO_STATIC_ROOT": str(log_dir), "WEBHOOK_ALLOW_HTTP": "1",
            "SWEEP_INTERVAL_SECONDS": "60", "WEBHOOK_INTERVAL_SECONDS": "0.2",
            "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1", **env,
        }),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process


def ready(process: subprocess.Popen[bytes], log: Path) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + 20
    while b"worker:" not in log.read_bytes():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_worker_killed_mid_batch_loses_nothing_and_its_batch_comes_back_in_order(tmp_path):
    release = threading.Event()
    with running_receiver(release=release) as receiver:
        create_endpoint(url=receiver.url, events=["redemption.created"])
        events = []
        for n in range(3):
            with transaction.atomic():
                events.append(record_event("redemption.created", {"id": f"killed-{n}"}))
        first = start_worker(tmp_path, "first", WEBHOOK_LEASE_SECONDS="2")
        try:
            assert receiver.arrived.wait(20), (tmp_path / "first.log").read_text()
            # Mid-batch: its first POST is in the receiver's hands, unanswered.
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            stop(first)
        deliveries = WebhookDelivery.objects.filter(event__in=events)
        # The whole batch is claimed under the dead worker's one lease.
        assert set(deliveries.values_list("status", "attempt_count")) == {
            (DeliveryStatus.PENDING, 0)
        }
        (lease,) = set(deliveries.values_list("locked_until", flat=True))
        assert lease is not None
        release.set()  # the hung request answers into a closed connection

        second = start_worker(tmp_path, "second", WEBHOOK_LEASE_SECONDS="2")
        try:
            wait_until(
                lambda: (
                    set(deliveries.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
                ),
                timeout=20,
                what=(tmp_path / "second.log").read_text(),
            )
        finally:
            stop(second)

    # At least once: the first event twice (the dead worker's POST, then the batch again),
    # and the batch in the log's order.
    ids = [str(event.id) for event in events]
    assert receiver.event_ids() == [ids[0], *ids]
    attempts = WebhookAttempt.objects.filter(delivery__in=deliveries)
    assert (
        sorted(attempts.values_list("attempt", "status", "response_status"))
        == [(1, DeliveryStatus.SUCCEEDED, 200)] * 3
    )


BURST = 400


def test_two_workers_deliver_a_burst_of_400_events_each_exactly_once(tmp_path):
    with running_receiver() as receiver:
        create_endpoint(url=receiver.url, events=["redemption.created"])
        workers = [spawn_worker(tmp_path, f"worker-{n}") for n in range(2)]
        try:
            for n, worker in enumerate(workers):
                ready(worker, tmp_path / f"worker-{n}.log")
            ids = []
            for batch in range(BURST // 2):  # 200 transactions of two events each
                with transaction.atomic():
                    for n in range(2):
                        event = record_event("redemption.created", {"n": batch * 2 + n})
                        ids.append(str(event.id))
            wait_until(
                lambda: len(set(receiver.event_ids())) >= BURST,
                timeout=60,
                what=f"{len(set(receiver.event_ids()))} of {BURST} delivered",
            )
            # Let any late duplicate (a race in claiming) arrive before counting.
            time.sleep(0.5)
        finally:
            for worker in workers:
                stop(worker)

    received = Counter(receiver.event_ids())
    assert set(received) == set(ids)
    assert [event_id for event_id, times in received.items() if times > 1] == []
    deliveries = WebhookDelivery.objects.all()
    assert deliveries.count() == BURST
    assert set(deliveries.values_list("status", "attempt_count")) == {(DeliveryStatus.SUCCEEDED, 1)}
