"""The worker's own upkeep of the task queue's table (django-tasks-db's DBTaskResult)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

# Finished runs are kept this long for the admin's eyes; a run still RUNNING after it was
# claimed by a worker that died (django-tasks-db never reclaims it): every job is short,
# and its next run does its work.
KEEP_RESULTS = timedelta(hours=1)


@task
def prune_task_results_task() -> int:
    """Delete finished task results, and abandoned RUNNING ones, older than an hour."""
    before = timezone.now() - KEEP_RESULTS
    finished = Q(
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED], finished_at__lt=before
    )
    abandoned = Q(status=TaskResultStatus.RUNNING, started_at__lt=before)
    deleted, _ = DBTaskResult.objects.filter(finished | abandoned).delete()
    if deleted:
        logger.info("pruned %d task result(s)", deleted)
    return deleted
