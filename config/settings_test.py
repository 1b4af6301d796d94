"""Test settings: PostgreSQL when DATABASE_URL is set or a local server answers, else SQLite."""

from __future__ import annotations

import os
import socket

LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/coupons"


def local_port_answers(port: int) -> bool:
    """Whether a server listens on 127.0.0.1:`port` (PostgreSQL, Redis)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# An SQLITE_PATH asks for SQLite (the Makefile's SQLite pass) even where a server answers.
if (
    not os.environ.get("DATABASE_URL")
    and not os.environ.get("SQLITE_PATH")
    and local_port_answers(5432)
):
    os.environ["DATABASE_URL"] = LOCAL_POSTGRES_URL

from config.settings import *  # noqa: E402, F403
from config.settings import ALLOWED_HOSTS  # noqa: E402

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # The same backend, whose flush after each transactional test deletes the rows rather
    # than truncating every table (tests/postgresql/base.py: a tenth of the time).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # The test database a file beside the configured one, as `make run`'s is: concurrent
    # writers wait on its busy timeout, where Django's default in-memory test database
    # (shared cache) refuses them at once with "database table is locked".
    DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['NAME']}.test"}  # noqa: F405
# Fast hashing in tests; PBKDF2 too, for users that a live server (production settings) checks.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
API_KEY_CACHE_SECONDS = 0
SECRET_KEY = "test-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
SECRET_KEY_IS_PLACEHOLDER = False
# In-process tests serve static files as `make run` does, from the installed apps, unhashed:
# no collectstatic. The production path (collected, hashed, cached for a year) is tested
# against a real server (tests/config/test_static_files.py).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
