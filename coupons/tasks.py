"""Background work, on Django's own tasks framework (django.tasks): the periodic sweep that
gives back holds past their expiry, and webhook delivery (both scheduled by
coupons/schedule.py, run by run_worker). Deliveries have a queue of their own, which the
worker runs in a loop of its own: waiting on receivers never holds up the sweep."""

from __future__ import annotations

import logging

from django.tasks import task

from coupons.services.reservations import sweep_expired_holds
from coupons.services.webhook_delivery import deliver_due_webhooks

logger = logging.getLogger(__name__)

WEBHOOK_QUEUE = "webhooks"


@task
def sweep_expired_holds_task() -> int:
    """Return every expired hold's use, capacity, budget and slot; how many were returned."""
    returned = sweep_expired_holds()
    if returned:
        logger.info("returned %d expired hold(s)", returned)
    return returned


@task(queue_name=WEBHOOK_QUEUE)
def deliver_due_webhooks_task() -> int:
    """Fan new events out to webhook endpoints and send what is due; how many attempts."""
    attempts = deliver_due_webhooks()
    if attempts:
        logger.info("made %d webhook delivery attempt(s)", attempts)
    return attempts
