"""Request ids, the access log and Prometheus metrics, kept off the hot path's thread hops:
everything here is plain Python called in the event loop."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.functional import LazyObject
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

access_log = logging.getLogger("coupons.access")

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

registry = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "coupon_http_requests",
    "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
    registry=registry,
)
LATENCY = Histogram(
    "coupon_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
REDEMPTIONS = Counter(
    "coupon_redemptions",
    "Redemption attempts by outcome: redeemed, or the refusal's error code.",
    ["outcome"],
    registry=registry,
)

THROTTLED = Counter(
    "coupon_throttled_lookups",
    "Code lookups refused with 429 against code guessing, by the limit passed.",
    ["limit"],  # customer or api_key
    registry=registry,
)

# The webhook delivery backlog, read from the database at scrape time (metrics_view).
WEBHOOKS_PENDING = Gauge(
    "coupon_webhook_deliveries_pending",
    "Webhook deliveries waiting to be sent or retried (active endpoints).",
    registry=registry,
)
WEBHOOKS_OLDEST_DUE = Gauge(
    "coupon_webhook_oldest_due_seconds",
    "How long the oldest due webhook delivery has waited; 0 when none is due.",
    registry=registry,
)


class PoolCollector(Collector):
    """The psycopg pool's own statistics, read at scrape time."""

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("coupon_db_pool_connections", "Open pooled connections."),
            GaugeMetricFamily("coupon_db_pool_idle", "Pooled connections not lent."),
            GaugeMetricFamily("coupon_db_pool_waiting", "Requests waiting for one."),
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # The names, for registration at import, without reading the database settings:
        # config.asgi imports this module (through body_limit) before Django is set up.
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size, idle, waiting = self._families()
        pool = getattr(connections["default"], "pool", None)
        if pool is not None:
            stats = pool.get_stats()
            size.add_metric([], stats.get("pool_size", 0))
            idle.add_metric([], stats.get("pool_available", 0))
            waiting.add_metric([], stats.get("requests_waiting", 0))
        yield from (size, idle, waiting)


registry.register(PoolCollector())


def acceptable_request_id(given: str) -> str:
    """`given` (a caller's X-Request-ID) when it is a sane token, else a new one: 128 random
    bits as 32 hex digits, the text of a uuid4 without building one (`uuid.UUID` checks and
    converts its bytes in Python, on every request)."""
    if given and _ACCEPTABLE_ID.fullmatch(given):
        return given
    return os.urandom(16).hex()


def request_id_of(request: HttpRequest) -> str:
    # META, not request.headers: that builds a dict of every header (~5% of a GET's CPU).
    return acceptable_request_id(request.META.get("HTTP_X_REQUEST_ID", ""))


def record(request: HttpRequest, response: HttpResponseBase, *, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    route = f"/{match.route}" if match is not None and match.route else "unmatched"
    method = request.method or ""
    if route == "/v1/redemptions/" and method == "POST":
        REDEMPTIONS.labels(redemption_outcome(response)).inc()
    client = getattr(request, "user", None)
    if isinstance(client, LazyObject):
        # The admin's user, not an API key: evaluating it would read the session from the
        # database here, in the event loop (SynchronousOnlyOperation, a 500).
        client = None
    record_request(
        method=method,
        path=request.path,
        route=route,
        status=response.status_code,
        started=started,
        request_id=request.META.get("coupons.request_id"),
        api_key=client.name if client is not None and hasattr(client, "key_id") else None,
    )


def record_request(
    *,
    method: str,
    path: str,
    route: str,
    status: int,
    started: float,
    request_id: str | None,
    api_key: str | None = None,
) -> None:
    """The metrics and the access line of one request (also for answers made before Django,
    such as BodySizeLimit's 413)."""
    elapsed = time.perf_counter() - started
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(elapsed)
    fields: dict[str, Any] = {
        "method": method,
        "path": path,  # no query string: it may carry cursors or codes
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "request_id": request_id,
    }
    if api_key is not None:
        fields["api_key"] = api_key  # the key's name, never the key
    access_log.info("%s %s %s", method, path, status, extra=fields)


def redemption_outcome(response: HttpResponseBase) -> str:
    if response.has_header("Idempotent-Replayed"):
        return "replayed"
    if response.status_code == 201:
        return "redeemed"
    code = getattr(response, "problem_code", None)
    if code is None and isinstance(response, HttpResponse):  # a refusal stored for its key
        try:
            code = json.loads(response.content).get("code")
        except ValueError:
            code = None
    return str(code or "error")
