"""Webhook delivery as background work on django.tasks (scheduled by operations/schedule.py,
run by run_worker). Deliveries have a queue of their own, which the worker runs in a loop of
its own: waiting on receivers never holds up the hold sweep."""

from __future__ import annotations

import logging

from django.tasks import task

from webhooks.services.delivery import deliver_due_webhooks

logger = logging.getLogger(__name__)

WEBHOOK_QUEUE = "webhooks"


@task(queue_name=WEBHOOK_QUEUE)
def deliver_due_webhooks_task() -> int:
    """Fan new events out to webhook endpoints and send what is due; how many attempts."""
    attempts = deliver_due_webhooks()
    if attempts:
        logger.info("made %d webhook delivery attempt(s)", attempts)
    return attempts
