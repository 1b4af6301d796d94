"""Cursor pages, newest first, stable under inserts: a cursor names the last row seen."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db.models import F, Model, Q, QuerySet

from coupons.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class Cursor:
    after: tuple[datetime, uuid.UUID]
    direction: Literal["next", "previous"]

    def token(self) -> str:
        raw = json.dumps([self.after[0].isoformat(), str(self.after[1]), self.direction[0]])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            moment, row_id, direction = json.loads(base64.urlsafe_b64decode(padded))
            parsed = datetime.fromisoformat(moment)
            if parsed.tzinfo is None or direction not in ("n", "p"):
                raise ValueError(token)
            return cls(
                after=(parsed, uuid.UUID(row_id)),
                direction="next" if direction == "n" else "previous",
            )
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed({"cursor": ["Invalid cursor."]}) from exc


@dataclass(slots=True)
class Page[T]:
    rows: list[T]
    next: Cursor | None = None
    previous: Cursor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def keyset_page[M: Model](
    queryset: QuerySet[M], *, moment: str, cursor: Cursor | None, size: int
) -> Page[M]:
    """One page of `queryset` ordered by (`moment`, id) descending, by keyset, not OFFSET."""
    newest_first = (F(moment).desc(), F("id").desc())
    if cursor is None:
        rows = list(queryset.order_by(*newest_first)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return Page(rows, next=_cursor_of(rows[-1], moment, "next") if more else None)
    at, row_id = cursor.after
    if cursor.direction == "next":
        older = Q(**{f"{moment}__lt": at}) | Q(**{moment: at, "id__lt": row_id})
        rows = list(queryset.filter(older).order_by(*newest_first)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return Page(
            rows,
            next=_cursor_of(rows[-1], moment, "next") if more else None,
            previous=_cursor_of(rows[0], moment, "previous") if rows else None,
        )
    newer = Q(**{f"{moment}__gt": at}) | Q(**{moment: at, "id__gt": row_id})
    rows = list(queryset.filter(newer).order_by(F(moment).asc(), F("id").asc())[: size + 1])
    more = len(rows) > size
    rows = rows[:size][::-1]
    return Page(
        rows,
        next=_cursor_of(rows[-1], moment, "next") if rows else None,
        previous=_cursor_of(rows[0], moment, "previous") if more else None,
    )


def _cursor_of(row: Model, moment: str, direction: Literal["next", "previous"]) -> Cursor:
    return Cursor(after=(getattr(row, moment), row.pk), direction=direction)
