"""The background worker, THE one process for background work (`make run` and the compose
file start it): the task queue's worker loop and the scheduler of operations.schedule's
periodic jobs (operations.worker), until SIGTERM or SIGINT."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations.schedule import PERIODIC
from operations.worker import run_each_job_once, run_worker


class Command(BaseCommand):
    help = "Run the background worker: queued tasks, and the periodic jobs of operations.schedule."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Run every periodic job once, then exit."
        )
        parser.add_argument(
            "--poll", type=float, default=0.5,
            help="Seconds between looks at an empty queue (default 0.5).",
        )  # fmt: skip

    def handle(self, *args: Any, once: bool, poll: float, **options: Any) -> None:
        if once:
            run_each_job_once()
            return
        jobs = ", ".join(f"{job.task.name} every {job.every:g} s" for job in PERIODIC)
        self.stdout.write(f"worker: running queued tasks; scheduling {jobs}")
        self.stdout.flush()
        run_worker(poll=poll)
