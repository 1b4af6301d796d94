"""Settings for the coupon service, read from the environment in this one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from config.db import check_pooled_connection, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

# Used only where no DJANGO_SECRET_KEY is given; the server refuses to start with it
# when DEBUG is off (config/asgi.py), so it can never sign a production session.
INSECURE_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105


class Env(environ.Env):
    """django-environ's typed reading (bool, int, list) with this project's conventions: a
    variable set to blanks means its default, as an unset one does (`DJANGO_DEBUG= make run`,
    a compose file's `${X:-}`); list items are trimmed, empty ones dropped
    (`DJANGO_ALLOWED_HOSTS="a, b"`); and a value is taken as it is, never as a `$OTHER`
    reference (a secret may well start with "$")."""

    def get_value(
        self,
        var: str,
        cast: Any = None,
        default: Any = environ.Env.NOTSET,
        parse_default: bool = False,
    ) -> Any:
        value = self.ENVIRON.get(f"{self.prefix}{var}", "")
        if not value.strip():
            if default is self.NOTSET:
                raise ImproperlyConfigured(f"Set the {self.prefix}{var} environment variable")
            return default
        return self.parse_value(value, cast)

    def list(self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET) -> list[Any]:
        return [item.strip() for item in super().list(var, cast, default) if item.strip()]


env = Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_DEV_SECRET_KEY)
SECRET_KEY_IS_PLACEHOLDER = SECRET_KEY == INSECURE_DEV_SECRET_KEY
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

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
    "django_tasks_db",
    # The apps, bottom layer first (pyproject.toml's import-linter contracts say so too).
    "core",
    "access",
    "events",
    "webhooks",
    "coupons",
    "operations",
]

# The API's answers encoded by orjson (core/api/http.py); off, by the standard library.
API_ORJSON = env.bool("API_ORJSON", default=True)

# Django's own middleware for the admin (sessions, CSRF, users, messages).
ADMIN_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The security headers for every request, ADMIN_MIDDLEWARE on the admin's paths only
# (core/api/forks.py says why).
MIDDLEWARE = [
    "config.middleware.RequestObservability",
    "core.api.forks.AdminOnlyMiddleware",
]
# Django's admin and security checks look for the stock middleware in MIDDLEWARE; it runs
# inside AdminOnlyMiddleware instead, and core/checks.py checks the settings those checks
# read (admin.E408-E410: sessions, auth and messages run on the admin's paths;
# security.W001-W003: HSTS, nosniff and X-Frame-Options are set by the same
# SecurityMiddleware). Those are the only checks kept off.
SILENCED_SYSTEM_CHECKS = [
    "admin.E408", "admin.E409", "admin.E410", "security.W001", "security.W002",
    "security.W003",
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
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    # dj-database-url, not django-environ's db_url: that leaves a percent-encoded socket
    # directory (postgres://u@%2Fvar%2Frun%2Fpostgresql/db) encoded. Several hosts (a
    # replicated cluster) are kept, for libpq to find the primary (config/db.py).
    config: dict[str, Any] = parse_database_url(url)
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
            "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=5),
            # A bounded wait instead of a hung request when the database stalls.
            "options": f"-c statement_timeout={env.int('DB_STATEMENT_TIMEOUT_MS', default=5000)}",
            # Explicit, though it is Django's default: psycopg never prepares a statement,
            # which a transaction pooler would send to a server connection that lacks it.
            "prepare_threshold": None,
            "pool": {
                "check": check_pooled_connection,
                "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
                "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
                "timeout": env.int("DB_POOL_TIMEOUT", default=10),
            },
        }
        if env.bool("DB_TRANSACTION_POOLING", default=False):
            # Behind PgBouncer in transaction mode each transaction may run on another
            # server connection: a startup `options` is refused (PgBouncer 1.18: "unsupported
            # startup parameter"), so statement_timeout is the pooler's or the role's to set,
            # and a cursor WITH HOLD (QuerySet.iterator() outside a transaction) would be
            # looked for on a connection that never declared it.
            del config["OPTIONS"]["options"]
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return config


DATABASES = {"default": database_settings(env.str("DATABASE_URL", default=""))}
# Covering indexes (Index.include) are PostgreSQL's; SQLite, for development, builds them
# without the extra columns, which is all the warning says.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "models.W040"]
# Threads that run the API's database work (one unit of work at a time each): 8, or the
# pool's size if smaller, so a thread never waits for a connection. More threads do not
# add throughput to a one-core worker; they fight the event loop for the GIL: at 20, hold
# then confirm had twice the p99 and requests past wrk's 2 s timeout (docs/performance.md).
DB_WORKER_THREADS = env.int(
    "DB_WORKER_THREADS", default=min(8, env.int("DB_POOL_MAX_SIZE", default=20))
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's own tasks framework on a table of this database (django-tasks-db): enqueued by
# `manage.py run_worker`'s scheduler and the app, run by that same worker (operations.worker).
# Two queues: webhook deliveries (webhooks.tasks.WEBHOOK_QUEUE) run apart from the rest.
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "webhooks"]}
}
# How often the worker returns expired holds (operations.schedule); the contract allows 60 s.
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=10.0)
if not 0 < SWEEP_INTERVAL_SECONDS <= 60:
    raise ImproperlyConfigured("SWEEP_INTERVAL_SECONDS must be more than 0 and at most 60")
# How often the worker sends due webhook deliveries (operations/schedule.py).
# GET /v1/events/ waits up to this long for the transactions running when it asks to
# finish, when they hold back events already committed (events.services.log).
EVENT_LOG_WAIT_SECONDS = env.float("EVENT_LOG_WAIT_SECONDS", default=2.0)
if not 0 <= EVENT_LOG_WAIT_SECONDS <= 10:
    raise ImproperlyConfigured("EVENT_LOG_WAIT_SECONDS must be between 0 and 10")
WEBHOOK_INTERVAL_SECONDS = env.float("WEBHOOK_INTERVAL_SECONDS", default=1.0)
if not 0 < WEBHOOK_INTERVAL_SECONDS <= 10:
    raise ImproperlyConfigured("WEBHOOK_INTERVAL_SECONDS must be more than 0 and at most 10")

CACHE_URL = env.str("REDIS_URL", default="") or env.str("CACHE_URL", default="")
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

# The admin's and Swagger UI's files, served by WhiteNoise from an async middleware (see
# config/static_files.py). With DEBUG off they come from STATIC_ROOT, filled by
# `manage.py collectstatic` (the Docker image runs it at build): names carry a hash of the
# content, so they are cached for a year, and gzip copies are made once. With DEBUG on
# (`make run`) they come straight from the installed apps, no collectstatic needed.
# SERVE_STATIC=0 when a CDN or proxy serves /static/ instead.
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SERVE_STATIC = env.bool("SERVE_STATIC", default=True)
if SERVE_STATIC:
    # Just inside the security headers, before the admin's middleware (WhiteNoise's place).
    MIDDLEWARE.insert(2, "config.static_files.StaticFilesMiddleware")

# The contract's limit: a body over 1 MiB is 413 (also enforced before Django buffers
# it, by config.body_limit.BodySizeLimit).
MAX_REQUEST_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# Every route ends with a slash; an API client gets a 404 problem naming the right
# path instead of a redirect that would drop its POST body.
APPEND_SLASH = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["access.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["access.authentication.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.http.JSONOnlyNegotiation",
    "EXCEPTION_HANDLER": "core.api.problems.problem_exception_handler",
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
    # Tags from the path's first segment after /v1 (coupons, redemptions, ...): a
    # generated client gets one module per resource.
    "SCHEMA_PATH_PREFIX": r"/v1",
    "TAGS": [
        {"name": "coupons", "description": "Codes, their uses, discounts and metadata."},
        {"name": "redemptions", "description": "Spending a use of a code, and giving it back."},
        {"name": "validations", "description": "Whether a code would redeem, spending nothing."},
        {"name": "reservations", "description": "Holding a use while a payment runs."},
        {"name": "redemption-groups", "description": "Several codes redeemed on one order."},
        {"name": "reservation-groups", "description": "Several codes held on one order."},
        {"name": "campaigns", "description": "Codes grouped under one discount and budget."},
        {"name": "events", "description": "The log of every change, in commit order."},
        {"name": "webhook-endpoints", "description": "Events pushed to your URL, signed."},
        {"name": "operations", "description": "Probes for load balancers and orchestrators."},
    ],
    # One name per closed set (postprocess_schema_enums would name them by field, "status").
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "ENUM_NAME_OVERRIDES": {
        "ProblemCodeEnum": "core.api.schema.PROBLEM_CODES",
        "RefusalReasonEnum": "coupons.shapes.REFUSAL_REASONS",
        "StackedRefusalReasonEnum": "coupons.shapes.STACKED_REASONS",
        "ReservationStatusEnum": "coupons.shapes.RESERVATION_STATUSES",
        "DeliveryStatusEnum": "webhooks.shapes.DELIVERY_STATUSES",
        "EventTypeEnum": "events.types.EVENT_TYPES",
        "HealthStatusEnum": ["ok"],
    },
    "PREPROCESSING_HOOKS": ["core.api.schema.only_documented_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.close_request_bodies",
        "core.api.schema.declare_headers",
        "core.api.schema.type_event_data",
        "coupons.api.schema.state_ledger_rules",
        "core.api.schema.describe_successes",
    ],
}

# How long an API key lookup is trusted in-process; revocation takes effect within it.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=5)

# Failed lookups of unknown codes allowed per window before 429 (against code guessing).
UNKNOWN_CODE_LIMIT_PER_CUSTOMER = env.int("THROTTLE_UNKNOWN_CODES_PER_CUSTOMER", default=20)
UNKNOWN_CODE_LIMIT_PER_API_KEY = env.int("THROTTLE_UNKNOWN_CODES_PER_API_KEY", default=600)
UNKNOWN_CODE_WINDOW_SECONDS = env.int("THROTTLE_WINDOW_SECONDS", default=60)

# Idempotency-Key answers are kept at least this long (purge_idempotency_keys deletes older).
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

# Webhook URLs (webhooks.url_guard): https only, and no host resolving to a
# loopback, private, link-local... address, unless these say otherwise (tests, development).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=False)
# How long a worker's claim on an endpoint's batch of deliveries lasts
# (webhooks.services.delivery): a batch starts its next POST (at most 10 s) only if it and
# the batch's record end within it, so keep it well above 15 s (at 15 or less a batch is one
# POST); a killed worker's batch waits this long.
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=60)

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Served behind a TLS-terminating proxy in production: HSTS on (browsers ignore it over
# plain HTTP) and no redirect by default (an API client's POST must not be redirected).
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=False)
# The proxy's X-Forwarded-Proto is trusted by uvicorn, and only from the addresses in
# FORWARDED_ALLOW_IPS (bin/serve), which then sets the request's scheme itself. No
# SECURE_PROXY_SSL_HEADER: Django would trust that header from any client (uvicorn passes
# it on). DJANGO_BEHIND_TLS_PROXY, which set it, is read only to warn (core/checks.py).
FORWARDED_ALLOW_IPS = env.str("FORWARDED_ALLOW_IPS", default="")
OLD_BEHIND_TLS_PROXY_SETTING = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)

# JSON lines by default (LOG_FORMAT=plain for a terminal). The access log is one line per
# request from config.middleware (method, path, status, duration, request id, key name).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            # Lines logged in the event loop (the access log) are written once per turn.
            "class": "config.logs.LoopBatchedStreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # The worker runs the sweep every few seconds: its own line says when it returned
        # holds, and a failed run is still logged; the framework's per-run lines are noise.
        "django.tasks": {"level": "WARNING"},
        # httpx logs each webhook POST with its URL, which may carry the receiver's token;
        # the delivery log (admin, API) records every attempt instead.
        "httpx": {"level": "WARNING"},
        "coupons.access": {"level": "INFO" if env.bool("ACCESS_LOG", default=True) else "WARNING"},
    },
}

# Prometheus metrics at /metrics: off unless METRICS_TOKEN is set, and then only for
# `Authorization: Bearer <METRICS_TOKEN>` (404 otherwise: the route is not advertised).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
