"""Database helpers that settings refer to."""

from __future__ import annotations

import select
from typing import Any
from urllib.parse import unquote, urlsplit

import dj_database_url
import psycopg
from django.core.exceptions import ImproperlyConfigured
from psycopg_pool import ConnectionPool


def parse_database_url(url: str) -> dict[str, Any]:
    """Django's settings for DATABASE_URL, keeping every host of a multi-host URL
    (`postgres://u@h1:5432,h2:5432/coupons?target_session_attrs=read-write`, libpq's form
    for a replicated cluster) as libpq's comma-separated HOST and PORT lists.

    dj-database-url alone refuses such a URL (it reads "5432,h2:5432" as the port), so
    the hosts are taken out first and the rest (user, password, name, query options such
    as target_session_attrs) is parsed by it as for one host.
    """
    netloc = urlsplit(url).netloc
    userinfo, at, hostlist = netloc.rpartition("@")
    if "," not in hostlist:
        return dict(dj_database_url.parse(url))
    hosts: list[str] = []
    ports: list[str] = []
    for item in hostlist.split(","):
        if item.startswith("["):  # [::1]:5432
            host, _, port = item[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        if not host or (port and not port.isdigit()):
            raise ImproperlyConfigured(f"DATABASE_URL: bad host {item!r} in its host list")
        hosts.append(unquote(host))
        ports.append(port)
    first = url.replace(netloc, f"{userinfo}{at}placeholder", 1)
    config = dict(dj_database_url.parse(first))
    config["HOST"] = ",".join(hosts)
    # libpq takes one port for every host, or one per host: the default fills the gaps.
    config["PORT"] = ",".join(port or "5432" for port in ports) if any(ports) else ""
    return config


def check_pooled_connection(conn: psycopg.Connection) -> None:
    """The pool's check before lending a connection, without a round trip when it can.

    psycopg's `ConnectionPool.check_connection` sends an empty query on every checkout:
    one more round trip per request (measured: ~25% of a GET by id's wall time here).
    An idle connection has nothing to read; when the server ended it (a restart,
    `pg_terminate_backend`), its socket turns readable (the FATAL notice, then EOF), and
    only then is the full check run, which raises so that the pool discards it.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("connection is closed")
    # A standby (PostgreSQL 14+ reports it without a query): after a failover, a connection
    # to a server that is no longer the primary refuses every write; the pool discards it
    # and connects again, to the primary a multi-host URL's target_session_attrs finds.
    if conn.info.parameter_status("in_hot_standby") == "on":
        raise psycopg.OperationalError("connected to a standby")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)
