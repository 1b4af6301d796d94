"""The JSON shapes of the API's answers, each declared once: the same declaration encodes
an answer (one pass, no serializer machinery: adrf's serializers hop threads per field)
and gives the OpenAPI component (`Shape.serializer`, for drf-spectacular only)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from operator import attrgetter
from typing import Any, Literal

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from coupons.api.http import rfc3339

Kind = Literal["uuid", "string", "integer", "boolean", "datetime"]


def _uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _same(value: Any) -> Any:
    return value


def _datetime(value: datetime | None) -> str | None:
    return rfc3339(value)


_ENCODE: dict[Kind, Callable[[Any], Any]] = {
    "uuid": _uuid,
    "string": _same,
    "integer": _same,
    "boolean": _same,
    "datetime": _datetime,
}
_SCHEMA: dict[Kind, type[serializers.Field]] = {
    "uuid": serializers.UUIDField,
    "string": serializers.CharField,
    "integer": serializers.IntegerField,
    "boolean": serializers.BooleanField,
    "datetime": serializers.DateTimeField,
}


@dataclass(frozen=True, slots=True)
class Out:
    """One field of an answer: its JSON kind, and where it comes from (the attribute of
    the same name unless `source` says otherwise)."""

    kind: Kind
    nullable: bool = False
    minimum: int | None = None
    help: str = ""
    source: str | None = None


class Shape:
    def __init__(self, component: str, **fields: Out) -> None:
        self.component = component
        self.fields = fields
        self._steps = [
            (name, attrgetter(field.source or name), _ENCODE[field.kind])
            for name, field in fields.items()
        ]

    def __call__(self, obj: Any) -> dict[str, Any]:
        return {name: encode(get(obj)) for name, get, encode in self._steps}

    @cached_property
    def serializer(self) -> type[serializers.Serializer]:
        declared: dict[str, Any] = {}
        for name, field in self.fields.items():
            options: dict[str, Any] = {"allow_null": field.nullable}
            if field.minimum is not None:
                options["min_value"] = field.minimum
            if field.help:
                options["help_text"] = field.help
            declared[name] = _SCHEMA[field.kind](**options)
        cls = type(f"{self.component}Out", (serializers.Serializer,), declared)
        return extend_schema_serializer(component_name=self.component)(cls)


COUPON = Shape(
    "Coupon",
    id=Out("uuid"),
    code=Out("string"),
    init_count=Out("integer", minimum=1),
    remaining_count=Out("integer", minimum=0),
    is_active=Out("boolean"),
    starts_at=Out("datetime", nullable=True),
    expires_at=Out("datetime", nullable=True),
    per_customer_limit=Out("integer", nullable=True, minimum=1),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
)

REDEMPTION = Shape(
    "Redemption",
    id=Out("uuid"),
    coupon_id=Out("uuid"),
    code=Out("string"),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    remaining_count=Out(
        "integer", minimum=0, help="The coupon's remaining uses right after this redemption."
    ),
    redeemed_at=Out("datetime"),
    reverted_at=Out("datetime", nullable=True),
)

VALIDATION = Shape(
    "ValidationResult",
    valid=Out("boolean"),
    reason=Out("string", nullable=True, help="An error code, or null if valid."),
    remaining_count=Out("integer", nullable=True),
)
