"""The background worker as `make run` starts it (bin/run-all): it returns expired holds
within a bounded time, and stops with the server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import Coupon, Reservation, ReservationStatus
from coupons.services import reservations as reservation_service
from tests.factories import make_coupon
from tests.servers import start_server, stop_server

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_the_worker_make_run_starts_returns_an_expired_hold(tmp_path, on_postgres):
    if not on_postgres:
        pytest.skip("the server processes need PostgreSQL")
    make_coupon("SWEPT-LIVE", init_count=1)
    # Expired a few seconds ago, and never touched since: only the worker can return it.
    held = reservation_service.hold_coupon(
        code="swept-live", ttl_seconds=1, now=timezone.now() - timedelta(seconds=5)
    )
    server = start_server(tmp_path, command="bin/run-all", SWEEP_INTERVAL_SECONDS="1")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if Reservation.objects.get(pk=held.id).status == ReservationStatus.EXPIRED:
                break
            time.sleep(0.2)
        assert Reservation.objects.get(pk=held.id).status == ReservationStatus.EXPIRED, (
            server.log.read_text()
        )
        coupon = Coupon.objects.get(code="SWEPT-LIVE")
        assert (coupon.remaining_count, coupon.held_count) == (1, 0)
    finally:
        stop_server(server)
    # SIGTERM to the supervisor stopped both: it exited, so it reaped its children.
    assert server.process.returncode is not None
