"""Settings read from the environment: empty means the default, lists are trimmed, and the
database URL gets the pool. Each case runs config/settings.py afresh in its own namespace."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.servers import free_port

SETTINGS = Path(__file__).resolve().parents[2] / "config" / "settings.py"
VARIABLES = [
    "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS", "DJANGO_CSRF_TRUSTED_ORIGINS", "DJANGO_SECURE_COOKIES",
    "DJANGO_HSTS_SECONDS", "ACCESS_LOG", "SERVE_STATIC", "DB_POOL_MAX_SIZE", "DB_WORKER_THREADS",
    "DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_BEHIND_TLS_PROXY", "DJANGO_STATIC_ROOT",
    "METRICS_TOKEN", "DB_TRANSACTION_POOLING", "API_ORJSON",
]  # fmt: skip


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_unset_variables_give_the_development_defaults(monkeypatch):
    s = settings_with(monkeypatch)
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert s["CSRF_TRUSTED_ORIGINS"] == []
    assert s["SESSION_COOKIE_SECURE"] is True and s["CSRF_COOKIE_SECURE"] is True
    assert s["SECURE_HSTS_SECONDS"] == 31_536_000
    assert s["LOGGING"]["loggers"]["coupons.access"]["level"] == "INFO"
    assert s["DB_WORKER_THREADS"] == 8
    assert s["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["SECRET_KEY_IS_PLACEHOLDER"] is True
    assert "SECURE_PROXY_SSL_HEADER" not in s


def test_an_empty_variable_means_its_default(monkeypatch):
    # `DJANGO_DEBUG= make run`, or a compose file's `${X:-}`: blank is "not set".
    s = settings_with(
        monkeypatch, DJANGO_DEBUG="", DJANGO_SECURE_COOKIES=" ", ACCESS_LOG="",
        DB_POOL_MAX_SIZE="", DJANGO_ALLOWED_HOSTS="", DJANGO_SECRET_KEY="",
    )  # fmt: skip
    assert s["DEBUG"] is False
    assert s["SESSION_COOKIE_SECURE"] is True
    assert s["LOGGING"]["loggers"]["coupons.access"]["level"] == "INFO"
    assert s["DB_WORKER_THREADS"] == 8
    assert s["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert s["SECRET_KEY_IS_PLACEHOLDER"] is True


def test_values_are_read_as_their_types(monkeypatch):
    s = settings_with(
        monkeypatch, DJANGO_DEBUG="yes", DJANGO_ALLOWED_HOSTS=" api.example.com, ,10.0.0.7 ,",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://admin.example.com", ACCESS_LOG="off",
        DB_POOL_MAX_SIZE="7", DJANGO_BEHIND_TLS_PROXY="1",
    )  # fmt: skip
    assert s["DEBUG"] is True
    assert s["SESSION_COOKIE_SECURE"] is False  # follows DEBUG unless set
    assert s["SECURE_HSTS_SECONDS"] == 0
    assert s["ALLOWED_HOSTS"] == ["api.example.com", "10.0.0.7"]
    assert s["CSRF_TRUSTED_ORIGINS"] == ["https://admin.example.com"]
    assert s["LOGGING"]["loggers"]["coupons.access"]["level"] == "WARNING"
    assert s["DB_WORKER_THREADS"] == 7  # never more than the pool's size unless set
    # Read only to warn: uvicorn trusts the proxy's header, from FORWARDED_ALLOW_IPS only.
    assert s["OLD_BEHIND_TLS_PROXY_SETTING"] is True
    assert "SECURE_PROXY_SSL_HEADER" not in s


def test_a_postgres_url_gets_the_shared_pool_and_timeouts(monkeypatch):
    s = settings_with(
        monkeypatch,
        DATABASE_URL="postgres://app:s%40cret@%2Fvar%2Frun%2Fpostgresql/coupons",
        DB_POOL_MAX_SIZE="12",
    )
    db = s["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["NAME"], db["PASSWORD"]) == ("/var/run/postgresql", "coupons", "s@cret")
    assert db["CONN_MAX_AGE"] == 0
    assert db["OPTIONS"]["pool"]["max_size"] == 12
    assert db["OPTIONS"]["options"] == "-c statement_timeout=5000"


def test_orjson_encodes_the_answers_unless_switched_off(monkeypatch):
    assert settings_with(monkeypatch)["API_ORJSON"] is True
    assert settings_with(monkeypatch, API_ORJSON="0")["API_ORJSON"] is False


def test_transaction_pooling_drops_what_pgbouncer_cannot_carry(monkeypatch):
    url = "postgres://app@127.0.0.1:6432/coupons"
    plain = settings_with(monkeypatch, DATABASE_URL=url)["DATABASES"]["default"]
    assert plain["OPTIONS"]["prepare_threshold"] is None
    assert not plain.get("DISABLE_SERVER_SIDE_CURSORS")

    db = settings_with(monkeypatch, DATABASE_URL=url, DB_TRANSACTION_POOLING="1")["DATABASES"][
        "default"
    ]
    assert "options" not in db["OPTIONS"]  # PgBouncer refuses the startup parameter
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert db["OPTIONS"]["prepare_threshold"] is None
    assert db["OPTIONS"]["pool"]["max_size"] == 20  # the pool stays: clients of PgBouncer


def test_a_secret_starting_with_a_dollar_is_taken_as_it_is(monkeypatch):
    # django-environ would read "$abc" as a reference to the variable `abc`.
    s = settings_with(monkeypatch, DJANGO_SECRET_KEY="$" + "k" * 50, METRICS_TOKEN="$HOME")
    assert s["SECRET_KEY"] == "$" + "k" * 50
    assert s["METRICS_TOKEN"] == "$HOME"


def test_a_url_with_several_hosts_keeps_every_host_for_libpq(monkeypatch):
    url = (
        "postgres://app:s%40cret@db1.internal:5432,db2.internal:5433,[::1]/coupons"
        "?target_session_attrs=read-write"
    )
    db = settings_with(monkeypatch, DATABASE_URL=url)["DATABASES"]["default"]
    assert db["HOST"] == "db1.internal,db2.internal,::1"
    assert db["PORT"] == "5432,5433,5432"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("coupons", "app", "s@cret")
    assert db["OPTIONS"]["target_session_attrs"] == "read-write"
    assert db["OPTIONS"]["pool"]["max_size"] == 20


def test_a_host_list_with_a_bad_port_is_refused_at_startup(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="bad host"):
        settings_with(monkeypatch, DATABASE_URL="postgres://app@db1:5432,db2:x/coupons")


@pytest.mark.postgres
@pytest.mark.django_db
def test_django_connects_through_a_host_list_to_the_host_that_answers(monkeypatch):
    from django.db import connection
    from django.db.utils import ConnectionHandler

    here = connection.settings_dict
    dead = free_port()  # nothing listens there: libpq goes on to the next host
    url = (
        f"postgres://{here['USER']}@127.0.0.1:{dead},{here['HOST']}:{here['PORT']}/"
        f"{here['NAME']}?target_session_attrs=read-write"
    )
    db = settings_with(monkeypatch, DATABASE_URL=url)["DATABASES"]["default"]
    del db["OPTIONS"]["pool"]  # one plain connection is enough here
    handler = ConnectionHandler({"default": db})
    try:
        with handler["default"].cursor() as cursor:
            cursor.execute("SELECT current_database(), inet_server_port()")
            assert cursor.fetchone() == (here["NAME"], int(here["PORT"]))
    finally:
        handler.close_all()
