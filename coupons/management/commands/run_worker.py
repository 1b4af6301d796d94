"""The background worker: enqueue the expired-holds sweep (coupons.tasks) every
`--interval` seconds until SIGTERM or SIGINT. With Django's default task backend
(ImmediateBackend) the task runs here, in this process; a queueing backend would hand it
to that backend's workers instead."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from coupons.tasks import deliver_due_webhooks_task, sweep_expired_holds_task


class Command(BaseCommand):
    help = "Run the background worker: sweep expired holds every --interval seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        # Well under the contract's 60 seconds from expiry to the use showing again.
        parser.add_argument("--interval", type=float, default=10.0)
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")
        # Webhook deliveries: due ones go out within about this long.
        parser.add_argument("--webhook-interval", type=float, default=1.0)

    def handle(
        self, *args: Any, interval: float, once: bool, webhook_interval: float, **options: Any
    ) -> None:
        stop = threading.Event()

        def stop_on(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, stop_on)
        signal.signal(signal.SIGINT, stop_on)
        self.stdout.write(f"worker: sweeping expired holds every {interval:g} s", ending="\n")
        self.stdout.flush()
        next_sweep = 0.0
        while not stop.is_set():
            # A database restart must not end the worker: a dead connection is dropped and
            # the next round opens a new one (the backend logs a failed task, and goes on).
            close_old_connections()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + interval
                try:
                    sweep_expired_holds_task.enqueue()
                except Exception as exc:
                    self.stderr.write(f"worker: sweep failed: {exc!r}")
            try:
                deliver_due_webhooks_task.enqueue()
            except Exception as exc:
                self.stderr.write(f"worker: webhook delivery failed: {exc!r}")
            if once:
                break
            stop.wait(min(webhook_interval, max(0.0, next_sweep - time.monotonic())))
