"""Idempotency-Key storage: claim a key, keep the first completed answer, replay it.

Plain data in and out. The API layer composes claim, effect and `keep_answer` in one
transaction (coupons.api.idempotency), so the claim and the effect commit together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from coupons.db import raw
from coupons.errors import IdempotencyKeyReused
from coupons.models import IdempotencyRecord


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Claim:
    record_id: int


def claim_key(*, api_key_id: uuid.UUID, key: str, fingerprint: str) -> Claim | StoredAnswer:
    """A fresh claim on (`api_key_id`, `key`), or the answer kept for it. Call inside the
    transaction that makes the effect: a concurrent claim of the same key waits on the
    unique index until this one commits (then replays) or rolls back (then runs itself)."""
    record_id = raw.claim_idempotency_key(api_key_id=api_key_id, key=key, fingerprint=fingerprint)
    if record_id is not None:
        return Claim(record_id)
    stored = IdempotencyRecord.objects.get(api_key_id=api_key_id, key=key)
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return StoredAnswer(
        status=stored.status_code or 500,
        content_type=stored.content_type,
        body=stored.body.encode(),
        headers=dict(stored.headers),
    )


def keep_answer(claim: Claim, answer: StoredAnswer) -> None:
    IdempotencyRecord.objects.filter(pk=claim.record_id).update(
        status_code=answer.status,
        content_type=answer.content_type,
        body=answer.body.decode(),
        headers=answer.headers,
    )


def purge_idempotency_records(*, older_than: timedelta) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
