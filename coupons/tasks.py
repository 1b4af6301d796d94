"""The ledger's background work, on Django's own tasks framework (django.tasks): the
periodic sweep that gives back holds past their expiry (scheduled by operations/schedule.py,
run by run_worker)."""

from __future__ import annotations

import logging

from django.tasks import task

from coupons.services.reservations import sweep_expired_holds

logger = logging.getLogger(__name__)


@task
def sweep_expired_holds_task() -> int:
    """Return every expired hold's use, capacity, budget and slot; how many were returned."""
    returned = sweep_expired_holds()
    if returned:
        logger.info("returned %d expired hold(s)", returned)
    return returned
