"""API keys: make, revoke, and find who a bearer key belongs to."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from cachetools import TLRUCache
from django.conf import settings
from django.utils import timezone

from access.models import ApiKey, ApiKeyScope

API_KEY_PREFIX = "cpn_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a live key belongs to."""

    key_id: uuid.UUID
    name: str
    scope: str


def hash_api_key(plain_key: str) -> str:
    # A fast hash is right here: the key is 256 random bits, not a password to stretch.
    return hashlib.sha256(plain_key.encode()).hexdigest()


def create_api_key(*, name: str, scope: str) -> tuple[ApiKey, str]:
    """Make a key; the plain key is returned once and never stored."""
    if scope not in ApiKeyScope.values:
        raise ValueError(f"scope must be one of {', '.join(ApiKeyScope.values)}")
    plain_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name, scope=scope, prefix=plain_key[:12], key_hash=hash_api_key(plain_key)
    )
    return api_key, plain_key


def revoke_api_key(key_id: uuid.UUID) -> None:
    ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_api_keys()


def _expires(key: str, value: object, now: float) -> float:
    return now + settings.API_KEY_CACHE_SECONDS


# A short-lived in-process memory of key lookups (unknown keys too), so that authenticating
# a request costs no database round trip. Revocation reaches other processes within its TTL.
_cache: TLRUCache[str, KeyHolder | None] = TLRUCache(
    maxsize=10_000, ttu=_expires, timer=time.monotonic
)
_cache_lock = threading.Lock()  # cachetools' caches are not thread-safe
_MISSING = object()


def forget_api_keys() -> None:
    with _cache_lock:
        _cache.clear()


def cached_key_holder(plain_key: str) -> tuple[bool, KeyHolder | None]:
    """(True, the holder or None) when the key's lookup is cached; (False, None) if not.
    No database access: safe to call in the event loop."""
    if settings.API_KEY_CACHE_SECONDS <= 0:
        return False, None
    with _cache_lock:
        found = _cache.get(hash_api_key(plain_key), _MISSING)
    return (False, None) if found is _MISSING else (True, found)  # type: ignore[return-value]


def key_holder(plain_key: str) -> KeyHolder | None:
    """Who a bearer key belongs to, or None for an unknown or revoked key."""
    known, holder = cached_key_holder(plain_key)
    if known:
        return holder
    key_hash = hash_api_key(plain_key)
    row = (
        ApiKey.objects.filter(key_hash=key_hash)
        .values("id", "name", "scope", "revoked_at", "last_used_at")
        .first()
    )
    holder = None
    if row is not None and row["revoked_at"] is None:
        holder = KeyHolder(key_id=row["id"], name=row["name"], scope=row["scope"])
        now = timezone.now()
        if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=row["id"]).update(last_used_at=now)
    if settings.API_KEY_CACHE_SECONDS > 0:
        with _cache_lock:
            _cache[key_hash] = holder
    return holder
