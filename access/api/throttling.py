"""Throttling code guessing: failed lookups (unknown codes) are counted per customer within
an API key and per API key, in fixed windows.

The throttle must not answer the question it guards. Past a customer's limit, EVERY lookup
by that customer is refused until its window has passed, known codes too: a guesser cannot
tell a found code from a refused one. Past the key's limit, unknown codes are refused
(logged and counted), while known codes keep working for the key's other customers: one
abuser must not stop a shop's checkout. A lookup without a customer_id is the key's one
anonymous customer.

Counters live in Django's cache: Redis (REDIS_URL) shares them across processes and servers;
the in-process fallback is per process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid

from django.conf import settings
from django.core.cache import cache

from config.observability import THROTTLED
from core.errors import TooManyRequests

logger = logging.getLogger("access.api.throttling")

ANONYMOUS = "anonymous"  # never a customer's key: theirs are hex digests


def _window() -> tuple[int, int, float]:
    window = settings.UNKNOWN_CODE_WINDOW_SECONDS
    now = time.time()
    return window, int(now // window), now


def _customer_counter(api_key_id: uuid.UUID, customer_id: str | None, bucket: int) -> str:
    # Hashed: a customer id may be anything up to 128 characters, and personal data.
    who = hashlib.sha256(customer_id.encode()).hexdigest()[:32] if customer_id else ANONYMOUS
    return f"unknown-code:{api_key_id}:{who}:{bucket}"


def _bump(key: str, *, window: int) -> int:
    cache.add(key, 0, timeout=window + 5)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 5)
        return 1


def _refuse(limit: str, *, window: int, bucket: int, now: float) -> TooManyRequests:
    THROTTLED.labels(limit).inc()
    retry_after = max(1, math.ceil((bucket + 1) * window - now))
    return TooManyRequests(
        retry_after, f"Too many lookups of unknown codes; retry in {retry_after} s."
    )


def refuse_throttled_customer(*, api_key_id: uuid.UUID, customer_id: str | None) -> None:
    """Before a lookup: 429 if this customer has spent its failed lookups for the window.
    One cache read, in the lookup's own unit of work."""
    window, bucket, now = _window()
    spent = cache.get(_customer_counter(api_key_id, customer_id, bucket)) or 0
    if spent >= settings.UNKNOWN_CODE_LIMIT_PER_CUSTOMER:
        raise _refuse("customer", window=window, bucket=bucket, now=now)


def count_unknown_code(*, api_key_id: uuid.UUID, customer_id: str | None) -> None:
    """After a lookup found no coupon: count it for the customer and the key; 429 instead of
    the not-found answer once either is past its limit."""
    window, bucket, now = _window()
    customer = _bump(_customer_counter(api_key_id, customer_id, bucket), window=window)
    key = _bump(f"unknown-code:{api_key_id}:{bucket}", window=window)
    if customer > settings.UNKNOWN_CODE_LIMIT_PER_CUSTOMER:  # lookups that raced the check
        raise _refuse("customer", window=window, bucket=bucket, now=now)
    if key > settings.UNKNOWN_CODE_LIMIT_PER_API_KEY:
        logger.warning(
            "API key past its limit of unknown-code lookups",
            extra={"api_key_id": str(api_key_id), "lookups": key, "window_seconds": window},
        )
        raise _refuse("api_key", window=window, bucket=bucket, now=now)
