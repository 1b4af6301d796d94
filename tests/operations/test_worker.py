"""The background worker (`manage.py run_worker`): django-tasks-db's queue and the periodic
jobs of operations.schedule. As `make run` starts it (bin/run-all), it returns an expired hold
within a bounded time and stops with the server; killed mid-task, or cut off from the
database, it (or the next one) still sweeps; SIGTERM lets the running task finish."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from psycopg import sql

from coupons.models import Coupon, Reservation, ReservationStatus
from coupons.services import reservations as reservation_service
from coupons.tasks import sweep_expired_holds_task
from operations.schedule import PERIODIC
from operations.upkeep import prune_task_results_task
from operations.worker import enqueue_unless_waiting
from tests.factories import broken_invariants, make_coupon
from tests.servers import ROOT, server_env, start_server, stop_server

pytestmark = [pytest.mark.django_db(transaction=True)]

SWEEP = sweep_expired_holds_task.module_path
# The worker processes' connections, by name (libpq's PGAPPNAME): the only ones cut off.
WORKER_APP = "coupons-test-worker"


def expired_hold(code: str) -> Reservation:
    """A hold of a fresh one-use coupon, expired a few seconds ago and never touched since:
    only a sweep can return it."""
    make_coupon(code, init_count=1)
    held = reservation_service.hold_coupon(
        code=code, ttl_seconds=1, now=timezone.now() - timedelta(seconds=5)
    )
    return Reservation.objects.get(pk=held.id)


def wait_for(condition: Callable[[], bool], seconds: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(why())


def status_of(hold: Reservation) -> str:
    return Reservation.objects.values_list("status", flat=True).get(pk=hold.pk)


@contextmanager
def worker_process(
    log_dir: Path, name: str, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = log_dir / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--poll", "0.2"],
        cwd=ROOT,
        env=server_env(
            SWEEP_INTERVAL_SECONDS="1",
            DJANGO_STATIC_ROOT=str(log_dir),
            PGAPPNAME=WORKER_APP,
            **env,
        ),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@contextmanager
def coupon_row_locked(code: str) -> Iterator[None]:
    """The coupon's row locked by this test's connection: a sweep returning one of its
    holds waits on it, mid-task, until the block ends."""
    with transaction.atomic():
        Coupon.objects.select_for_update().get(code=code)
        yield


def maintenance_connection() -> psycopg.Connection:
    """A connection to the server's `postgres` database, from which the test database can
    be closed to new connections (not from within it)."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None, port=settings["PORT"] or None, user=settings["USER"],
        password=settings["PASSWORD"] or None, dbname="postgres", autocommit=True,
    )  # fmt: skip


def running_sweeps() -> int:
    return DBTaskResult.objects.filter(task_path=SWEEP, status=TaskResultStatus.RUNNING).count()


def test_the_worker_make_run_starts_returns_an_expired_hold(tmp_path, on_postgres):
    if not on_postgres:
        pytest.skip("the server processes need PostgreSQL")
    held = expired_hold("SWEPT-LIVE")
    server = start_server(tmp_path, command="bin/run-all", SWEEP_INTERVAL_SECONDS="1")
    try:
        wait_for(lambda: status_of(held) == ReservationStatus.EXPIRED, 20, server.log.read_text)
        coupon = Coupon.objects.get(code="SWEPT-LIVE")
        assert (coupon.remaining_count, coupon.held_count) == (1, 0)
        # It ran on the queue: the sweep's result is a row of django-tasks-db's table
        # (marked a moment after the sweep's own transaction commits).
        succeeded = DBTaskResult.objects.filter(task_path=SWEEP, status=TaskResultStatus.SUCCESSFUL)
        wait_for(succeeded.exists, 5, server.log.read_text)
    finally:
        stop_server(server)
    # SIGTERM to the supervisor stopped both: it exited, so it reaped its children.
    assert server.process.returncode is not None


def test_run_worker_once_runs_every_periodic_job_then_exits():
    held = expired_hold("SWEPT-ONCE")
    # A finished run older than an hour, and a RUNNING one a dead worker left that long ago.
    old = timezone.now() - timedelta(hours=2)
    done = sweep_expired_holds_task.enqueue().id
    dead = sweep_expired_holds_task.enqueue().id
    DBTaskResult.objects.filter(pk=done).update(status=TaskResultStatus.SUCCESSFUL, finished_at=old)
    DBTaskResult.objects.filter(pk=dead).update(status=TaskResultStatus.RUNNING, started_at=old)
    call_command("run_worker", "--once")
    assert status_of(held) == ReservationStatus.EXPIRED
    assert not DBTaskResult.objects.filter(pk__in=[done, dead]).exists()
    ran = DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL)
    assert sorted(ran.values_list("task_path", flat=True)) == sorted(
        job.task.module_path for job in PERIODIC
    )
    assert {SWEEP, prune_task_results_task.module_path} < {job.task.module_path for job in PERIODIC}
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    assert broken_invariants() == []


def test_a_job_is_enqueued_only_while_none_of_it_is_waiting():
    assert enqueue_unless_waiting(sweep_expired_holds_task)
    assert not enqueue_unless_waiting(sweep_expired_holds_task)
    assert DBTaskResult.objects.filter(task_path=SWEEP).count() == 1
    # Claimed by a worker that then died: RUNNING for good, and no reason to wait.
    DBTaskResult.objects.filter(task_path=SWEEP).update(status=TaskResultStatus.RUNNING)
    assert enqueue_unless_waiting(sweep_expired_holds_task)
    assert DBTaskResult.objects.filter(task_path=SWEEP, status=TaskResultStatus.READY).count() == 1


def test_a_worker_killed_mid_sweep_leaves_a_stale_row_and_the_next_one_still_sweeps(
    tmp_path, on_postgres
):
    if not on_postgres:
        pytest.skip("the worker process needs PostgreSQL")
    held = expired_hold("KILLED")
    with worker_process(tmp_path, "first") as (first, log), coupon_row_locked("KILLED"):
        wait_for(lambda: running_sweeps() == 1, 20, log.read_text)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    # The killed sweep rolled back, and its row says RUNNING forever.
    assert status_of(held) == ReservationStatus.HELD
    assert running_sweeps() == 1
    with worker_process(tmp_path, "second") as (_, log):
        wait_for(lambda: status_of(held) == ReservationStatus.EXPIRED, 20, log.read_text)
    assert broken_invariants() == []


def test_sigterm_lets_the_running_sweep_finish_then_stops_the_worker(tmp_path, on_postgres):
    if not on_postgres:
        pytest.skip("the worker process needs PostgreSQL")
    held = expired_hold("FINISHED")
    with worker_process(tmp_path, "worker") as (worker, log):
        with coupon_row_locked("FINISHED"):
            wait_for(lambda: running_sweeps() == 1, 20, log.read_text)
            # As Ctrl-C under `make run` does: the terminal's SIGINT and bin/run-all's SIGTERM.
            worker.send_signal(signal.SIGINT)
            worker.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert worker.poll() is None, log.read_text()
        assert worker.wait(timeout=10) == 0, log.read_text()
    assert status_of(held) == ReservationStatus.EXPIRED
    assert running_sweeps() == 0


def test_a_worker_cut_off_from_the_database_keeps_sweeping(tmp_path, on_postgres):
    if not on_postgres:
        pytest.skip("the worker process needs PostgreSQL")
    # Waits of a second for a pooled connection: the outage below outlasts them.
    with worker_process(tmp_path, "worker", DB_POOL_TIMEOUT="1") as (worker, log):
        wait_for(
            lambda: DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).exists(),
            20,
            log.read_text,
        )
        # As a database restart does: every connection of the worker ends under it, and
        # for a while no new one is accepted.
        name = connection.settings_dict["NAME"]
        with maintenance_connection() as admin:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                sql.Identifier(name)))  # fmt: skip
            try:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name = %s",
                    [name, WORKER_APP],
                )
                time.sleep(3)
            finally:
                admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                    sql.Identifier(name)))  # fmt: skip
        assert "database unavailable" in log.read_text()
        held = expired_hold("AFTER-OUTAGE")
        wait_for(lambda: status_of(held) == ReservationStatus.EXPIRED, 20, log.read_text)
        assert worker.poll() is None, log.read_text()
