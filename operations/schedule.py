"""The periodic jobs, all in this one registry: `(task, every N seconds)` each.

`manage.py run_worker` (operations.worker) enqueues each job on the task queue every `every`
seconds, unless one of it is already waiting there (READY), so a slow or stopped worker
never lets the queue pile up; `run_worker --once` runs each job once, then exits.

A job takes no arguments and does "whatever is due now", idempotently: its durable state
lives in our own tables (a hold's `expires_at`, a delivery's next attempt, with a lease if
it needs one), never in the queue. The queue may lose a run: a worker killed mid-task
leaves its row RUNNING for good (operations.worker prunes it after an hour), and the next
run of the job does the work. Two workers may each enqueue a job once in a race; running
a job twice at once must therefore be harmless too.

Adding a job is one line below: `Periodic(my_task, seconds)`, with `my_task` a
`django.tasks.task` of no arguments.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.conf import settings
from django.tasks import Task

from coupons.tasks import sweep_expired_holds_task
from operations.upkeep import prune_task_results_task
from webhooks.tasks import deliver_due_webhooks_task


class Periodic(NamedTuple):
    task: Task[[], Any]
    every: float


PERIODIC: tuple[Periodic, ...] = (
    Periodic(sweep_expired_holds_task, settings.SWEEP_INTERVAL_SECONDS),
    # Due webhook deliveries go out within about this long (the first retry's 30 s bound
    # and the fan-out's latency both rest on it).
    Periodic(deliver_due_webhooks_task, settings.WEBHOOK_INTERVAL_SECONDS),
    Periodic(prune_task_results_task, 300),
)
