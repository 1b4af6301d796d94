"""Column helpers shared by the tables of coupons.models and coupons.models.campaign."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.domain.money import MAX_AMOUNT

CURRENCY_LENGTH = 3


def amount_in_range(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0, f"{field}__lte": MAX_AMOUNT})


def metadata_field() -> models.JSONField:
    # db_default as well as default: the hand-written INSERTs (coupons.db.raw) name their
    # columns, and a row they write must still get {} rather than break NOT NULL.
    return models.JSONField(default=dict, db_default=models.Value({}, models.JSONField()))
