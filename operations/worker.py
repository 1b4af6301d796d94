"""The one background worker process (`manage.py run_worker`): django-tasks-db's worker
loops run whatever is queued, webhook deliveries in a loop (thread) of their own, and a
scheduler thread beside them enqueues the periodic jobs of operations.schedule. None ends on
a database outage: each retries until it is back."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from django.db import Error as DatabaseError
from django.db import close_old_connections, connections
from django.tasks import Task, TaskResultStatus, task_backends
from django_tasks_db import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from operations.schedule import PERIODIC, Periodic
from webhooks.tasks import WEBHOOK_QUEUE

logger = logging.getLogger(__name__)

# Waits after a failed look at the database, doubling up to the last.
RETRY_WAITS = (0.5, 1.0, 2.0, 5.0)


def enqueue_unless_waiting(task: Task[[], Any]) -> bool:
    """Enqueue `task` unless a run of it is already READY: whether it was. A stale RUNNING
    row (its worker died) does not count: it will never run."""
    waiting = DBTaskResult.objects.filter(
        task_path=task.module_path, status=TaskResultStatus.READY
    ).exists()
    if not waiting:
        task.enqueue()
    return not waiting


class Scheduler(threading.Thread):
    """Enqueues each periodic job every `every` seconds (the first time at once)."""

    def __init__(self, jobs: Sequence[Periodic], stop: threading.Event) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.jobs = jobs
        self.stop = stop

    def run(self) -> None:
        due = [0.0] * len(self.jobs)
        failures = 0
        while not self.stop.is_set():
            close_old_connections()
            try:
                for index, job in enumerate(self.jobs):
                    if time.monotonic() >= due[index]:
                        enqueue_unless_waiting(job.task)
                        due[index] = time.monotonic() + job.every
                failures = 0
                wait = max(0.05, min(due) - time.monotonic())
            except DatabaseError as exc:
                # This thread's own connection: dropped, and opened again next round.
                logger.warning("scheduler: database unavailable, retrying: %r", exc)
                connections.close_all()
                wait = RETRY_WAITS[min(failures, len(RETRY_WAITS) - 1)]
                failures += 1
            except Exception:
                # Anything else is logged, never the end of the schedule (the sweep's).
                logger.exception("scheduler: enqueueing failed")
                wait = RETRY_WAITS[-1]
            self.stop.wait(wait)
        connections.close_all()


class QueueWorker(Worker):
    """django-tasks-db's worker, stopped by SIGTERM or SIGINT after the task it is running
    (a second signal, a while later, ends it at once), never by `sys.exit` from a handler
    mid-claim. Its `running` is the shared `stop` event's opposite, so one signal stops
    every loop of the process."""

    # Ctrl-C under `make run` reaches the worker twice at once (the terminal's SIGINT to
    # the process group, bin/run-all's SIGTERM): one request to stop, not an insistence.
    SAME_REQUEST_SECONDS = 2.0

    def __init__(
        self,
        *,
        stop: threading.Event,
        poll: float,
        batch: bool = False,
        queues: Sequence[str] = ("*",),
        excluded: Sequence[str] = (),
    ) -> None:
        self.stop = stop
        super().__init__(
            queue_names=list(queues), interval=poll, batch=batch,
            backend_name="default", startup_delay=False, max_tasks=None,
            worker_id=f"{socket.gethostname()[:40]}-{os.getpid()}",
            excluded_queue_names=list(excluded),
        )  # fmt: skip
        self.stop_requested_at: float | None = None

    @property
    def running(self) -> bool:
        return not self.stop.is_set()

    @running.setter
    def running(self, value: bool) -> None:
        if not value:
            self.stop.set()

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.stop_requested_at is not None:
            if now - self.stop_requested_at > self.SAME_REQUEST_SECONDS:
                raise SystemExit(1)
            return
        self.stop_requested_at = now
        logger.info("worker: %s, stopping after the current task", signal.strsignal(signum))
        self.running = False


def check_backend() -> None:
    if not isinstance(task_backends["default"], DatabaseBackend):
        raise RuntimeError("run_worker needs TASKS['default'] to be django_tasks_db's backend")


def run_worker(*, poll: float, jobs: Sequence[Periodic] = PERIODIC) -> None:
    """Until SIGTERM or SIGINT: the scheduler thread, the webhook queue's loop in a thread,
    and every other queue's loop in this thread (where signals arrive). A database restart
    costs a few failed rounds, never the process: django-tasks-db's loop raises on a lost
    connection, and is started again once the database answers."""
    check_backend()
    stop = threading.Event()
    worker = QueueWorker(stop=stop, poll=poll, excluded=[WEBHOOK_QUEUE])
    worker.configure_signals()
    # A delivery waits on a receiver (up to 10 s, for many endpoints at once): in a loop of
    # its own, that never delays the hold sweep.
    deliveries = threading.Thread(
        target=run_queue,
        args=(QueueWorker(stop=stop, poll=poll, queues=[WEBHOOK_QUEUE]),),
        name="webhook-queue",
        daemon=True,
    )
    scheduler = Scheduler(jobs, stop)
    scheduler.start()
    deliveries.start()
    try:
        run_queue(worker)
    finally:
        stop.set()
        deliveries.join(timeout=15)
        scheduler.join(timeout=5)
        connections.close_all()


def run_queue(worker: QueueWorker) -> None:
    """One queue loop until its worker stops, through database outages; in a thread of its
    own, through anything else too (logged), and its connection closed at the end."""
    failures = 0
    own_thread = threading.current_thread() is not threading.main_thread()
    try:
        while worker.running:
            try:
                worker.run()
            except DatabaseError as exc:
                logger.warning("worker: database unavailable, retrying: %r", exc)
                connections.close_all()
                worker.stop.wait(RETRY_WAITS[min(failures, len(RETRY_WAITS) - 1)])
                failures += 1
            except Exception:
                if not own_thread:
                    raise
                logger.exception("worker: the %s loop failed, retrying", worker.queue_names)
                connections.close_all()
                worker.stop.wait(RETRY_WAITS[-1])
            else:
                failures = 0
    finally:
        if own_thread:
            connections.close_all()


def run_each_job_once(jobs: Sequence[Periodic] = PERIODIC) -> None:
    """Enqueue every periodic job (unless waiting already) and run the queue until it is
    empty, in this process: `run_worker --once`."""
    check_backend()
    for job in jobs:
        enqueue_unless_waiting(job.task)
    QueueWorker(stop=threading.Event(), poll=0, batch=True).run()
