"""Settings for the coupon service, read from the environment in this one place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

from config.db import check_pooled_connection

BASE_DIR = Path(__file__).resolve().parent.parent

# Used only where no DJANGO_SECRET_KEY is given; the server refuses to start with it
# when DEBUG is off (config/asgi.py), so it can never sign a production session.
INSECURE_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or INSECURE_DEV_SECRET_KEY
SECRET_KEY_IS_PLACEHOLDER = SECRET_KEY == INSECURE_DEV_SECRET_KEY
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "coupons",
]

# One async middleware: security headers for every answer, and Django's session, CSRF,
# auth and messages middleware for /admin/ only (see config/middleware.py: no thread hops
# on the API).
MIDDLEWARE = ["config.middleware.SiteMiddleware"]
# The admin's session, auth and messages middleware are there, inside SiteMiddleware, for
# the admin's paths; Django's check only looks at the MIDDLEWARE list.
# Likewise SecurityMiddleware (every request), CSRF and X-Frame-Options (the admin) run
# there; coupons/checks.py checks the settings those warnings would have covered.
SILENCED_SYSTEM_CHECKS = [
    "admin.E408", "admin.E409", "admin.E410", "security.W001", "security.W002", "security.W003",
]  # fmt: skip

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_settings(url: str | None) -> dict[str, Any]:
    """One database from DATABASE_URL; an SQLite file in the project when there is none."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    config: dict[str, Any] = dict(dj_database_url.parse(url))
    if config["ENGINE"] in {
        "django.db.backends.postgresql",
        "django.contrib.gis.db.backends.postgis",
    }:
        # Under ASGI every request runs its queries in a fresh worker thread, so
        # persistent per-thread connections leak; psycopg's pool is shared instead.
        config["CONN_MAX_AGE"] = 0
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            **config.get("OPTIONS", {}),
            "connect_timeout": env_int("DB_CONNECT_TIMEOUT", 5),
            # A bounded wait instead of a hung request when the database stalls.
            "options": f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 5000)}",
            "pool": {
                "check": check_pooled_connection,
                "min_size": env_int("DB_POOL_MIN_SIZE", 2),
                "max_size": env_int("DB_POOL_MAX_SIZE", 20),
                "timeout": env_int("DB_POOL_TIMEOUT", 10),
            },
        }
    return config


DATABASES = {"default": database_settings(os.environ.get("DATABASE_URL"))}
# Threads that run the API's database work (one unit of work at a time each): as many as
# the pool has connections, so neither waits on the other.
DB_WORKER_THREADS = env_int("DB_WORKER_THREADS", env_int("DB_POOL_MAX_SIZE", 20))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = os.environ.get("REDIS_URL") or os.environ.get("CACHE_URL")
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
SERVE_STATIC = env_bool("SERVE_STATIC", True)

# The contract's limit: a body over 1 MiB is 413 (also enforced before Django buffers
# it, by config.asgi.BodySizeLimit).
MAX_REQUEST_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# Every route ends with a slash; an API client gets a 404 problem naming the right
# path instead of a redirect that would drop its POST body.
APPEND_SLASH = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["coupons.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["coupons.api.auth.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "coupons.api.http.JSONOnlyNegotiation",
    "EXCEPTION_HANDLER": "coupons.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI document at /v1/schema/ and Swagger UI at /v1/docs/, whose JS and CSS come
# from drf-spectacular-sidecar through this server: no request to any other host.
SPECTACULAR_SETTINGS = {
    "TITLE": "Coupon service",
    "DESCRIPTION": (
        "Create discount codes and redeem them, never more often than they allow. "
        "Errors are RFC 9457 problem details (application/problem+json) with a stable `code`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["coupons.api.schema.only_documented_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "coupons.api.schema.close_request_bodies",
    ],
}

# How long an API key lookup is trusted in-process; revocation takes effect within it.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 5)

# Failed lookups of unknown codes allowed per window before 429 (against code guessing).
UNKNOWN_CODE_LIMIT_PER_CUSTOMER = env_int("THROTTLE_UNKNOWN_CODES_PER_CUSTOMER", 20)
UNKNOWN_CODE_LIMIT_PER_API_KEY = env_int("THROTTLE_UNKNOWN_CODES_PER_API_KEY", 600)
UNKNOWN_CODE_WINDOW_SECONDS = env_int("THROTTLE_WINDOW_SECONDS", 60)

# Idempotency-Key answers are kept at least this long (purge_idempotency_keys deletes older).
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Served behind a TLS-terminating proxy in production: HSTS on (browsers ignore it over
# plain HTTP) and no redirect by default (an API client's POST must not be redirected).
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
# The proxy's X-Forwarded-Proto is trusted by uvicorn, and only from the addresses in
# FORWARDED_ALLOW_IPS (bin/serve), which then sets the request's scheme itself. No
# SECURE_PROXY_SSL_HEADER: Django would trust that header from any client (uvicorn passes
# it on). DJANGO_BEHIND_TLS_PROXY, which set it, is read only to warn (coupons/checks.py).
FORWARDED_ALLOW_IPS = os.environ.get("FORWARDED_ALLOW_IPS", "")
OLD_BEHIND_TLS_PROXY_SETTING = env_bool("DJANGO_BEHIND_TLS_PROXY", False)

# JSON lines by default (LOG_FORMAT=plain for a terminal). The access log is one line per
# request from config.middleware (method, path, status, duration, request id, key name).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "coupons.access": {"level": "INFO" if env_bool("ACCESS_LOG", True) else "WARNING"},
    },
}

# Prometheus metrics at /metrics: off unless METRICS_TOKEN is set, and then only for
# `Authorization: Bearer <METRICS_TOKEN>` (404 otherwise: the route is not advertised).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
