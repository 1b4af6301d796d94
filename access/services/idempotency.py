"""Idempotency-Key storage: keep the first completed answer for a key, replay it.

Plain data in and out. The API layer makes the effect and keeps its answer in one
transaction (access.api.idempotency), so the effect and the answer commit together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from django.db import connection, models
from django.utils import timezone

from access.models import ApiKey, IdempotencyRecord
from core.errors import IdempotencyKeyReused


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


_KEEP_FIRST_ANSWER = f"""
    INSERT INTO {IdempotencyRecord._meta.db_table}
           (api_key_id, key, fingerprint, status_code, content_type, body, headers, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (api_key_id, key) DO NOTHING
    RETURNING id
"""  # noqa: S608 - the table name is ours; values are parameters


def kept_answer(*, api_key_id: uuid.UUID, key: str, fingerprint: str) -> StoredAnswer | None:
    """The answer kept for (`api_key_id`, `key`), None when none is; the same key with
    another request is refused."""
    stored = IdempotencyRecord.objects.filter(api_key_id=api_key_id, key=key).first()
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return StoredAnswer(
        status=stored.status_code or 500,
        content_type=stored.content_type,
        body=stored.body.encode(),
        headers=dict(stored.headers),
    )


def keep_first_answer(
    *, api_key_id: uuid.UUID, key: str, fingerprint: str, answer: StoredAnswer
) -> bool:
    """Keep `answer` for (`api_key_id`, `key`) unless one is kept already (False). Call in
    the transaction that made the effect, as its last statement: an insert of the same key
    by a concurrent transaction waits on the unique index until that one commits (then
    this one is False, and its caller rolls its effect back) or rolls back."""
    headers = cast(models.JSONField, IdempotencyRecord._meta.get_field("headers"))
    params = [
        ApiKey._meta.pk.get_db_prep_value(api_key_id, connection),
        key,
        fingerprint,
        answer.status,
        answer.content_type,
        answer.body.decode(),
        headers.get_db_prep_value(answer.headers, connection),
        connection.ops.adapt_datetimefield_value(timezone.now()),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_KEEP_FIRST_ANSWER, params)
        return cursor.fetchone() is not None


def purge_idempotency_records(*, older_than: timedelta) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
