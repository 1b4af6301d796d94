"""Input of the webhook endpoints: JSON types checked strictly, no database access (the
URL's SSRF check needs DNS, so the service runs it: webhooks.services.endpoints)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import InputSerializer, StrictBooleanField, StrictCharField
from events.types import EVENT_TYPE_SET, EVENT_TYPES
from webhooks.models import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": list(EVENT_TYPES)},
            },
            {
                "type": "array",
                "minItems": 1,
                "maxItems": 1,
                "items": {"type": "string", "enum": ["*"]},
            },
        ],
        "description": 'Event types, or ["*"] for every type (now and to come).',
    }
)
class EventTypesField(serializers.Field):
    default_error_messages = {
        "invalid": 'Must be a list of event types, or ["*"].',
        "empty": 'Give at least one event type, or ["*"].',
        "unknown": "Unknown event type(s): {names}.",
        "star": '"*" stands alone: ["*"] means every type.',
        "repeated": "Each type once.",
    }

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            self.fail("invalid")
        if not data:
            self.fail("empty")
        if "*" in data:
            if data != ["*"]:
                self.fail("star")
            return ["*"]
        unknown = [name for name in data if name not in EVENT_TYPE_SET]
        if unknown:
            self.fail("unknown", names=", ".join(repr(name) for name in unknown))
        if len(set(data)) != len(data):
            self.fail("repeated")
        return list(data)

    def to_representation(self, value: list[str]) -> list[str]:
        return value


def _url(**options: Any) -> StrictCharField:
    return StrictCharField(
        min_length=1, max_length=MAX_URL_LENGTH, trim_whitespace=False, **options
    )


# DRF's CharField refuses a NUL; said as a pattern too, so the OpenAPI document tells
# clients (schemathesis sent one and got the 400 the schema did not announce). "+", as a
# blank description is the schema's other branch (DRF runs no validator on a blank).
NO_NUL = RegexValidator(r"^[^\x00]+$", "Null characters are not allowed.")


def _description(**options: Any) -> StrictCharField:
    return StrictCharField(
        max_length=MAX_DESCRIPTION_LENGTH, allow_blank=True, validators=[NO_NUL], **options
    )


class WebhookEndpointCreateInput(InputSerializer):
    """A URL to POST events to, and which events."""

    url = _url(help_text="https (unless WEBHOOK_ALLOW_HTTP=1), to a public host.")
    # Left out: every event (["*"]), what a new subscriber most often wants; [] is a 400.
    events = EventTypesField(required=False, default=["*"])
    description = _description(required=False, default="")
    is_active = StrictBooleanField(required=False, default=True)


class WebhookEndpointPatchInput(InputSerializer):
    """The fields to change; the others stay as they are."""

    url = _url(required=False)
    events = EventTypesField(required=False)
    description = _description(required=False)
    is_active = StrictBooleanField(
        required=False, help_text="true re-enables a disabled endpoint (clears disabled_reason)."
    )
    refused = {
        "secret": "Cannot be changed: create a new endpoint.",
        "disabled_reason": "Read-only: set is_active to true to re-enable.",
    }
