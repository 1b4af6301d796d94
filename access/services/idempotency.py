"""Idempotency-Key storage: keep the first completed answer for a key, replay it.

Plain data in and out. The API layer makes the effect and keeps its answer in one
transaction (access.api.idempotency), so the effect and the answer commit together; an
effect of one statement keeps it in that statement (`KeptBy`, `keep_answer_sql`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, cast

from django.db import IntegrityError, connection, models
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


_HEADERS = cast(models.JSONField, IdempotencyRecord._meta.get_field("headers"))
_API_KEY_ID = ApiKey._meta.pk
_KEPT_ANSWER = f"""
    SELECT fingerprint, status_code, content_type, body, headers
      FROM {IdempotencyRecord._meta.db_table} WHERE api_key_id = %s AND key = %s
"""  # noqa: S608 - the table name is ours; values are parameters
_KEY_CONSTRAINT = "idempotency_key_per_api_key"


@dataclass(frozen=True, slots=True)
class KeptBy:
    """An Idempotency-Key whose answer the effect keeps in its own statement (a one-statement
    redemption, coupons.db.raw)."""

    api_key_id: uuid.UUID
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class AnswerWithHoles:
    """An answer to keep for `kept_by` in which the values only the effect's statement
    knows stand as holes: each a string made for this request alone, which the answer's
    JSON carries (quoted) where the value goes. `keep_answer_sql` fills them."""

    kept_by: KeptBy
    answer: StoredAnswer
    holes: Mapping[str, str]  # field -> the string standing for its value


def answer_with_holes(
    kept_by: KeptBy, render: Callable[[Any], StoredAnswer], result: Any, names: tuple[str, ...]
) -> AnswerWithHoles:
    """The answer `render` makes of `result` (a dataclass) with its fields `names` (JSON
    strings or numbers, or null, in the answer) left as holes."""
    nonce = uuid.uuid4().hex
    holes = {name: f"hole-{name}-{nonce}" for name in names}
    return AnswerWithHoles(kept_by, render(replace(result, **holes)), holes)


def keep_answer_sql(fills: Mapping[str, str], *, source: str) -> str:
    """A statement (for a CTE) keeping an `AnswerWithHoles` (parameters by
    `keep_answer_params`) with each hole filled by the JSON of its SQL expression in
    `fills`, over the effect's rows `source`; it returns the body as kept. Without ON
    CONFLICT: a key kept meanwhile fails the whole statement, its effect undone with it
    (`is_key_taken`)."""
    body = "%(kept_body)s"
    for name, expression in fills.items():
        filled = f"COALESCE(to_json({expression})::text, 'null')"
        body = f"replace({body}, %(kept_hole_{name})s, {filled})"
    return f"""
        INSERT INTO {IdempotencyRecord._meta.db_table}
               (api_key_id, key, fingerprint, status_code, content_type, body, headers,
                created_at)
        SELECT %(kept_api_key_id)s, %(kept_key)s, %(kept_fingerprint)s, %(kept_status)s,
               %(kept_content_type)s, {body}, %(kept_headers)s, %(kept_at)s
          FROM {source}
        RETURNING body
    """  # noqa: S608 - the table name and expressions are ours; values are parameters


def keep_answer_params(answer: AnswerWithHoles) -> dict[str, Any]:
    kept_by, stored = answer.kept_by, answer.answer
    return {
        "kept_api_key_id": _API_KEY_ID.get_db_prep_value(kept_by.api_key_id, connection),
        "kept_key": kept_by.key,
        "kept_fingerprint": kept_by.fingerprint,
        "kept_status": stored.status,
        "kept_content_type": stored.content_type,
        "kept_body": stored.body.decode(),
        "kept_headers": _HEADERS.get_db_prep_value(stored.headers, connection),
        "kept_at": connection.ops.adapt_datetimefield_value(timezone.now()),
        **{f"kept_hole_{name}": f'"{hole}"' for name, hole in answer.holes.items()},
    }


def kept_with(answer: AnswerWithHoles, body: str) -> StoredAnswer:
    """The answer as its statement kept it (`body`: what `keep_answer_sql` returned)."""
    stored = answer.answer
    return StoredAnswer(stored.status, stored.content_type, body.encode(), stored.headers)


def is_key_taken(exc: IntegrityError) -> bool:
    """Whether a statement failed because its key's answer was kept meanwhile."""
    cause = getattr(exc.__cause__, "diag", None)
    return getattr(cause, "constraint_name", None) == _KEY_CONSTRAINT


def kept_answer(*, api_key_id: uuid.UUID, key: str, fingerprint: str) -> StoredAnswer | None:
    """The answer kept for (`api_key_id`, `key`), None when none is; the same key with
    another request is refused."""
    with connection.cursor() as cursor:  # no queryset to compile: every keyed POST reads
        cursor.execute(_KEPT_ANSWER, [_API_KEY_ID.get_db_prep_value(api_key_id, connection), key])
        row = cursor.fetchone()
    if row is None:
        return None
    kept_fingerprint, status, content_type, body, headers = row
    if kept_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return StoredAnswer(
        status=status or 500,
        content_type=content_type,
        body=body.encode(),
        headers=json.loads(headers),  # jsonb comes back as text (Django's loader), as on SQLite
    )


def keep_first_answer(
    *, api_key_id: uuid.UUID, key: str, fingerprint: str, answer: StoredAnswer
) -> bool:
    """Keep `answer` for (`api_key_id`, `key`) unless one is kept already (False). Call in
    the transaction that made the effect, as its last statement: an insert of the same key
    by a concurrent transaction waits on the unique index until that one commits (then
    this one is False, and its caller rolls its effect back) or rolls back."""
    params = [
        _API_KEY_ID.get_db_prep_value(api_key_id, connection),
        key,
        fingerprint,
        answer.status,
        answer.content_type,
        answer.body.decode(),
        _HEADERS.get_db_prep_value(answer.headers, connection),
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
