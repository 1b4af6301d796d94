"""How the JSON shapes of the API's answers and of the events' `data` are declared: each
app declares its shapes once (coupons.shapes, events.shapes, webhooks.shapes), and the same
declaration encodes an answer or an event (one pass, no serializer machinery: adrf's
serializers hop threads per field) and gives the OpenAPI component
(core.api.shapes.serializer_of). Outside the `api` packages, so that the services can
encode an event's object in the transaction of its change exactly as the API answers it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal

from core.domain.metadata import metadata_json

Kind = Literal[
    "uuid",
    "string",
    "integer",
    "boolean",
    "datetime",
    "discount",
    "metadata",
    "details",
    "money",
    "object",
    "objects",
    "strings",
    "currency",
]


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _same(value: Any) -> Any:
    return value


def _metadata(value: dict[str, str] | None) -> dict[str, str]:
    return metadata_json(value)


# "discount" has no encoder here: the ledger's shapes give theirs (Out.encode).
_ENCODE: dict[Kind, Callable[[Any], Any]] = {
    "uuid": _uuid,
    "string": _same,
    "integer": _same,
    "boolean": _same,
    "datetime": rfc3339,
    "metadata": _metadata,
    "details": _same,
    "money": _same,
    "object": _same,
    "objects": _same,
    "strings": list,
    "currency": _same,
}


@dataclass(frozen=True, slots=True)
class Out:
    """One field of an answer: its JSON kind, and where it comes from (the attribute of
    the same name unless `source` says otherwise)."""

    kind: Kind
    nullable: bool = False
    minimum: int | None = None
    help: str = ""
    # A closed set of strings: the OpenAPI document lists them as an enum.
    choices: tuple[str, ...] | None = None
    source: str | None = None
    encode: Callable[[Any], Any] | None = None  # else the kind's own
    # "objects": each item's shape, for the OpenAPI document (None: any object).
    items: Shape | None = None


def _encoder(field: Out) -> Callable[[Any], Any]:
    """The field's own encoder, else its items' shape for each item, else its kind's."""
    if field.encode is not None:
        return field.encode
    items = field.items
    if items is not None:
        return lambda values: [items(value) for value in values]
    return _ENCODE[field.kind]


class Shape:
    def __init__(self, component: str, *, doc: str = "", **fields: Out) -> None:
        self.component = component
        self.doc = doc  # what the object is, for the OpenAPI document's readers
        self.fields = fields
        self._steps = [
            (name, attrgetter(field.source or name), _encoder(field))
            for name, field in fields.items()
        ]

    def __call__(self, obj: Any) -> dict[str, Any]:
        return {name: encode(get(obj)) for name, get, encode in self._steps}
