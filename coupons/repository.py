"""The one module that reads and writes the database for the API, the admin and commands.

Functions are sync; each is one unit of work (at most one transaction). Their `a`-prefixed
twins run them through ONE `sync_to_async` hop, because `transaction.atomic` cannot be
used in `async def` and every extra hop costs a thread switch.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from coupons.errors import DuplicateCode, NotFound
from coupons.models import ApiKey, ApiKeyScope, Coupon

CODE_UNIQUE_CONSTRAINT = "coupon_code_unique_ignoring_case"


def _violates(exc: IntegrityError, constraint: str) -> bool:
    cause = exc.__cause__
    diag_name = getattr(getattr(cause, "diag", None), "constraint_name", None)
    return diag_name == constraint or constraint in str(exc)


# Coupons


def create_coupon(
    *,
    code: str,
    init_count: int,
    is_active: bool = True,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    per_customer_limit: int | None = None,
) -> Coupon:
    """Insert a coupon with all its uses left; the unique index, not a prior SELECT,
    decides a duplicate, so two concurrent creates of one code cannot both succeed."""
    try:
        with transaction.atomic():
            return Coupon.objects.create(
                code=code,
                init_count=init_count,
                remaining_count=init_count,
                is_active=is_active,
                starts_at=starts_at,
                expires_at=expires_at,
                per_customer_limit=per_customer_limit,
            )
    except IntegrityError as exc:
        if _violates(exc, CODE_UNIQUE_CONSTRAINT):
            raise DuplicateCode(f"A coupon with the code {code!r} already exists.") from exc
        raise


acreate_coupon = sync_to_async(create_coupon)


def get_coupon(coupon_id: uuid.UUID) -> Coupon:
    try:
        return Coupon.objects.get(pk=coupon_id)
    except Coupon.DoesNotExist as exc:
        raise NotFound(f"No coupon has the id {coupon_id}.") from exc


aget_coupon = sync_to_async(get_coupon)


# API keys

API_KEY_PREFIX = "cpn_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ApiClient:
    """Who is calling: the authenticated API key, as DRF's `request.user`."""

    key_id: uuid.UUID
    name: str
    scope: str

    is_authenticated = True

    def may_use(self, required_scope: str) -> bool:
        return self.scope == ApiKeyScope.MANAGE or self.scope == required_scope


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
    _forget_api_keys()


class _ApiKeyCache:
    """A short-lived in-process memory of key lookups, so that authenticating a request
    costs no database round trip. Revocation reaches other processes within its TTL."""

    max_entries = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiClient | None]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> tuple[bool, ApiClient | None]:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key_hash: str, client: ApiClient | None, ttl: float) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key_hash] = (time.monotonic() + ttl, client)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_api_key_cache = _ApiKeyCache()


def _forget_api_keys() -> None:
    _api_key_cache.clear()


def api_client_for_key(plain_key: str) -> ApiClient | None:
    """The client a bearer key belongs to, or None for an unknown or revoked key."""
    key_hash = hash_api_key(plain_key)
    ttl = settings.API_KEY_CACHE_SECONDS
    if ttl > 0:
        known, cached = _api_key_cache.get(key_hash)
        if known:
            return cached
    row = (
        ApiKey.objects.filter(key_hash=key_hash)
        .values("id", "name", "scope", "revoked_at", "last_used_at")
        .first()
    )
    client = None
    if row is not None and row["revoked_at"] is None:
        client = ApiClient(key_id=row["id"], name=row["name"], scope=row["scope"])
        now = timezone.now()
        if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=row["id"]).update(last_used_at=now)
    if ttl > 0:
        _api_key_cache.put(key_hash, client, ttl)
    return client


# Operations


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


adatabase_answers = sync_to_async(database_answers)
