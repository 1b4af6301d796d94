"""PgBouncer in transaction mode in front of PostgreSQL: what breaks there, and that the
settings README gives for it (DB_TRANSACTION_POOLING) avoid it. Run by `make test-pgbouncer`
(bin/with-pgbouncer), which fails when PgBouncer cannot start; skipped elsewhere."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, transaction

from coupons.models import Coupon
from tests import servers
from tests.factories import make_coupon

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def port(pgbouncer_port: str | None) -> str:
    if not pgbouncer_port:
        pytest.skip("runs through PgBouncer only: make test-pgbouncer")
    return pgbouncer_port


def bouncer_url(port: str) -> str:
    return f"postgres://postgres@127.0.0.1:{port}/{connection.settings_dict['NAME']}"


@pytest.fixture
def other_client(port: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(bouncer_url(port), autocommit=True) as conn:
        yield conn


def test_the_tests_reach_postgresql_through_pgbouncer(port: str) -> None:
    make_coupon()
    assert str(connection.settings_dict["PORT"]) == port
    assert f":{port}/" in servers.test_database_url()  # the servers the burst tests start, too
    clients = subprocess.run(
        ["psql", f"postgres://postgres@127.0.0.1:{port}/pgbouncer", "-Atc", "SHOW CLIENTS"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    assert f"|{connection.settings_dict['NAME']}|" in clients


def test_a_startup_options_parameter_is_refused_so_the_settings_leave_it_out(port: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(bouncer_url(port), options="-c statement_timeout=5000").close()
    assert "options" not in connection.settings_dict["OPTIONS"]


def test_statement_timeout_is_still_set_by_pgbouncer_on_each_server_connection(port: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("5s",)


def test_iterating_a_queryset_outside_a_transaction_survives_a_change_of_server(
    port: str, other_client: psycopg.Connection
) -> None:
    for _ in range(4):
        make_coupon()
    seen = 0
    rows = Coupon.objects.order_by("code").iterator(chunk_size=1)
    next(rows)
    # Another client now holds in a transaction the server connection that served the
    # first chunk (PgBouncer hands out the last released one first): a server-side cursor
    # (DECLARE ... WITH HOLD) would be missing on whichever server the next fetch gets.
    with other_client.transaction():
        other_client.execute("SELECT 1")
        for _ in rows:
            seen += 1
    assert seen == 3


def test_without_the_setting_a_server_side_cursor_is_lost(
    port: str, other_client: psycopg.Connection
) -> None:
    # The failure DISABLE_SERVER_SIDE_CURSORS prevents, shown once so the test above means
    # something.
    for _ in range(4):
        make_coupon()
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = False
    try:
        rows = Coupon.objects.order_by("code").iterator(chunk_size=1)
        next(rows)
        with other_client.transaction():
            other_client.execute("SELECT 1")
            with pytest.raises(Exception, match="does not exist"):
                list(rows)
    finally:
        connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
        with transaction.atomic():
            pass  # the connection is usable again
