"""Shared fixtures: the real ASGI app over httpx, API keys, and the database in use."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import Client

from access.services import api_keys


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = db["NAME"] if db["ENGINE"].endswith("sqlite3") else f"{db['HOST']}:{db['PORT']}"
    return f"database: {db['ENGINE'].rsplit('.', 1)[-1]} ({where})"


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.conf import settings

    if os.environ.get("COUPONS_REQUIRE_POSTGRES") == "1" and not settings.DATABASES["default"][
        "ENGINE"
    ].endswith("postgresql"):
        raise pytest.UsageError(
            "COUPONS_REQUIRE_POSTGRES=1 but no PostgreSQL: set DATABASE_URL or start the "
            "local server (127.0.0.1:5432)."
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, created (and dropped) on PostgreSQL directly, then
    used through PgBouncer when bin/with-pgbouncer runs the tests (TEST_PGBOUNCER_PORT):
    this process's pool and the servers the tests start (tests/servers.py) connect to it."""
    port = os.environ.get("TEST_PGBOUNCER_PORT")
    if not port:
        yield
        return
    db: Any = connections["default"]  # PostgreSQL's wrapper: close_pool()
    direct = (db.settings_dict["HOST"], db.settings_dict["PORT"])
    with django_db_blocker.unblock():
        connections.close_all()  # back to the pool opened on the direct address...
        db.close_pool()  # ...which goes
        db.settings_dict["HOST"], db.settings_dict["PORT"] = "127.0.0.1", port
        yield
        connections.close_all()
        db.close_pool()
        db.settings_dict["HOST"], db.settings_dict["PORT"] = direct
    # PgBouncer keeps its server connections to the test database: end them, or it
    # cannot be dropped. KILL is its admin console's, which speaks the simple protocol only.
    subprocess.run(
        ["psql", f"postgres://postgres@127.0.0.1:{port}/pgbouncer", "-c",
         f"KILL {db.settings_dict['NAME']}"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


@pytest.fixture
def pgbouncer_port() -> str | None:
    """PgBouncer's port when the tests run through it (bin/with-pgbouncer)."""
    return os.environ.get("TEST_PGBOUNCER_PORT")


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
async def api(transactional_db: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the whole ASGI application (body limit, middleware, DRF, database)."""
    from config.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    # Queries the test itself made through sync_to_async ran in asgiref's shared thread;
    # close that thread's connection so the test database can be flushed and dropped.
    await sync_to_async(connections.close_all)()


def _key(scope: str) -> str:
    return api_keys.create_api_key(name=f"test-{scope}", scope=scope)[1]


@pytest.fixture
def staff(transactional_db: Any) -> Client:
    """A Django test client logged in as a superuser (the admin's tests)."""
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manage_key(transactional_db: Any) -> str:
    return _key("manage")


@pytest.fixture
def redeem_key(transactional_db: Any) -> str:
    return _key("redeem")


@pytest.fixture
def manage(manage_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {manage_key}"}


@pytest.fixture
def redeem(redeem_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {redeem_key}"}


@pytest.fixture(autouse=True)
def _close_connections_after_test() -> Iterator[None]:
    yield
    connections.close_all()
