"""Idempotency-Key storage: claim a key, keep the first completed answer, replay it.

Plain data in and out. The API layer composes claim, effect and `keep_answer` in one
transaction (access.api.idempotency), so the claim and the effect commit together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from access.models import ApiKey, IdempotencyRecord
from core.errors import IdempotencyKeyReused


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Claim:
    record_id: int


_CLAIM_IDEMPOTENCY_KEY = f"""
    INSERT INTO {IdempotencyRecord._meta.db_table}
           (api_key_id, key, fingerprint, status_code, content_type, body, headers, created_at)
    VALUES (%s, %s, %s, NULL, '', '', '{{}}', %s)
    ON CONFLICT (api_key_id, key) DO NOTHING
    RETURNING id
"""  # noqa: S608 - the table name is ours; values are parameters


def claim_idempotency_key(*, api_key_id: uuid.UUID, key: str, fingerprint: str) -> int | None:
    """The new record's id, or None when the key was claimed before. A concurrent claim of
    the same key blocks on the unique index until the first commits or rolls back."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    key_id = ApiKey._meta.pk.get_db_prep_value(api_key_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_IDEMPOTENCY_KEY, [key_id, key, fingerprint, now])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def claim_key(*, api_key_id: uuid.UUID, key: str, fingerprint: str) -> Claim | StoredAnswer:
    """A fresh claim on (`api_key_id`, `key`), or the answer kept for it. Call inside the
    transaction that makes the effect: a concurrent claim of the same key waits on the
    unique index until this one commits (then replays) or rolls back (then runs itself)."""
    record_id = claim_idempotency_key(api_key_id=api_key_id, key=key, fingerprint=fingerprint)
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
