"""Counting failed lookups of unknown codes, against code guessing.

Counters live in Django's cache: Redis (REDIS_URL) shares them across processes and
servers; the in-process fallback is per process. Fixed one-minute windows.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid

from django.conf import settings
from django.core.cache import cache

from coupons.errors import TooManyRequests


def _bump(key: str, *, window: int) -> int:
    cache.add(key, 0, timeout=window + 5)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 5)
        return 1


def count_unknown_code(*, api_key_id: uuid.UUID, customer_id: str | None) -> None:
    """Note one lookup of an unknown code; past a limit, refuse it with 429.

    Only failed lookups are counted and refused: a known code never meets this.
    """
    window = settings.UNKNOWN_CODE_WINDOW_SECONDS
    now = time.time()
    bucket = int(now // window)
    over = _bump(f"unknown-code:{api_key_id}:{bucket}", window=window) > (
        settings.UNKNOWN_CODE_LIMIT_PER_API_KEY
    )
    if customer_id:
        customer = hashlib.sha256(customer_id.encode()).hexdigest()[:32]
        key = f"unknown-code:{api_key_id}:{customer}:{bucket}"
        over = _bump(key, window=window) > settings.UNKNOWN_CODE_LIMIT_PER_CUSTOMER or over
    if over:
        retry_after = max(1, math.ceil((bucket + 1) * window - now))
        raise TooManyRequests(
            retry_after, f"Too many lookups of unknown codes; retry in {retry_after} s."
        )
