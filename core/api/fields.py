"""The strict input fields every app's serializers are built of: JSON types checked exactly,
and `validated`, the one way a request's input becomes clean data or a 400."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.forks import SharedFieldsSerializer
from core.api.problems import flatten_errors
from core.errors import ValidationFailed


class FullMatchValidator(RegexValidator):
    """A RegexValidator that matches the whole value: with re.search, `$` also matches before
    a final newline, so "NEWLINE\\n" was a code that no (trimmed) lookup could ever find. The
    pattern itself stays ECMA-262 for the OpenAPI document."""

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str) or not re.fullmatch(self.regex, value):
            raise DjangoValidationError(self.message, code=self.code, params={"value": value})


UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class InputSerializer(SharedFieldsSerializer):
    """A request-input serializer: never partial, given no context. A name it does not
    know is a 400 naming it (a typo such as `per_customer_limt` must not pass silently);
    `refused` names fields it knows of but will not take, with the reason."""

    refused: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        # Reported together with any other field errors, not after them.
        refused = {
            name: [self.refused.get(name, "Unknown field.")]
            for name in (sorted(set(data) - set(self.fields)) if isinstance(data, dict) else ())
        }
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**refused, **exc.detail}) from exc  # type: ignore[dict-item]
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no strings, floats or booleans."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        # DRF measures max_length after trimming; the schema (and a client reading it)
        # measures what was sent. Found by schemathesis: 300 characters of which 250 were
        # trailing no-break spaces passed a 256-character limit.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return str(super().to_internal_value(data))


# What DRF's CharField accepts, said as a pattern for the OpenAPI document: some character
# that is not whitespace (surrounding whitespace is trimmed), and no NUL anywhere.
# The whitespace is spelled out (what str.strip() removes), as regex engines differ on \s.
def validated(
    serializer_class: type[serializers.Serializer], data: dict[str, Any]
) -> dict[str, Any]:
    """The serializer's clean data, or a 400 `validation_error` naming each bad field
    (what `is_valid` would find, by the same `run_validation`)."""
    try:
        return dict(_validator(serializer_class).run_validation(data))
    except serializers.ValidationError as exc:
        raise ValidationFailed(flatten_errors(exc.detail)) from None


@cache
def _validator(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """One instance per input serializer for every request: `run_validation` keeps nothing
    on it (these are never partial, bound to no instance, given no context), and a new one
    per request cost DRF's `Field.__init__` again each time."""
    return serializer_class()


@extend_schema_field(OpenApiTypes.UUID)
class StrictUUIDField(serializers.UUIDField):
    """A UUID as 8-4-4-4-12 ASCII hex digits (uuid.UUID also takes other digits and forms)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not UUID_PATTERN.fullmatch(data):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
