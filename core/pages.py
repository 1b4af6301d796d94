"""Cursor pages, newest first, stable under inserts: a cursor names the last row seen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from django.core import signing
from django.db.models import F, Model, Q, QuerySet

from core.errors import ValidationFailed

# Pages of the lists.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Cursor:
    after: tuple[datetime, uuid.UUID]
    direction: Literal["next", "previous"]

    # Signed (HMAC with SECRET_KEY), so a cursor is opaque: one made up or changed is a 400
    # before anything in it is decoded, let alone sent to the database (a made-up offset of
    # +16:00 was PostgreSQL's DataError, a number for the id an AttributeError: 500s). The
    # list it was made for (`kind`, the API passes the list's path) is signed with it: a
    # coupon list's cursor is no position in the redemptions, and is refused there.
    SALT = "coupons.cursor"

    def token(self, *, kind: str) -> str:
        moment = self.after[0].isoformat()
        return signing.dumps([moment, str(self.after[1]), self.direction[0], kind], salt=self.SALT)

    @classmethod
    def parse(cls, token: str, *, kind: str) -> Cursor:
        try:
            moment, row_id, direction, made_for = signing.loads(token, salt=cls.SALT)
            if not isinstance(moment, str) or not isinstance(row_id, str):
                raise TypeError(token)
            parsed = datetime.fromisoformat(moment)
            if parsed.tzinfo is None or direction not in ("n", "p"):
                raise ValueError(token)
            cursor = cls(
                after=(parsed.astimezone(UTC), uuid.UUID(row_id)),
                direction="next" if direction == "n" else "previous",
            )
        except (signing.BadSignature, ValueError, TypeError, RecursionError) as exc:
            raise ValidationFailed({"cursor": ["Invalid cursor."]}) from exc
        if made_for != kind:
            raise ValidationFailed({"cursor": ["This cursor is another list's."]})
        return cursor


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
