"""Thin async views of /v1/events/: the pollable log, oldest first, and one event."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from access.models import ApiKeyScope
from core.api.base import ApiView
from core.api.http import json_response
from core.api.pagination import PAGE_PARAMETERS, page_size
from core.api.schema import problems
from core.api.shapes import serializer_of
from core.errors import ValidationFailed
from events.services import log as event_log
from events.shapes import EVENT
from events.types import EVENT_TYPE_SET, EVENT_TYPES

EventOut = serializer_of(EVENT)
_PARAMS = frozenset({"type", "cursor", "page_size"})


class EventPage(serializers.Serializer):
    """A page of the event log, oldest first; `next` reads on from its end."""

    results = EventOut(many=True)
    next = serializers.URLField(help_text="Always given: follow it to see what comes next.")
    previous = serializers.URLField(allow_null=True, help_text="Always null: the log reads on.")


TYPE_PARAMETER = OpenApiParameter(
    "type",
    {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}},
    description="Only events of these types (repeat it for several).",
    required=False,
    style="form",
    explode=True,
)


def _types(request: Request) -> list[str]:
    params = request.query_params
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise ValidationFailed(
            {name: [f"Unknown parameter; use {', '.join(sorted(_PARAMS))}."] for name in unknown}
        )
    for name in ("cursor", "page_size"):
        if len(params.getlist(name)) > 1:
            raise ValidationFailed({name: ["Give it once."]})
    types = params.getlist("type")
    wrong = [name for name in types if name not in EVENT_TYPE_SET]
    if wrong:
        raise ValidationFailed({"type": [f"Unknown event type {name!r}." for name in wrong]})
    return types


class EventCollectionView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="list_events",
        summary="Read the event log",
        description=(
            "Every change (coupons, redemptions, holds, campaigns) in commit order, oldest first. "
            "`next` is always given: keep following it to see what happens next; an empty page "
            "means nothing new yet. Filter by `type`."
        ),
        parameters=[TYPE_PARAMETER, *PAGE_PARAMETERS],
        responses={200: EventPage, **problems(400)},
    )
    async def get(self, request: Request) -> HttpResponse:
        types = _types(request)
        size = page_size(request)
        raw_cursor = request.query_params.get("cursor")
        cursor = None if raw_cursor is None else event_log.EventCursor.parse(raw_cursor)
        events, after = await event_log.aevents_after(
            cursor, types=types, limit=size, wait=settings.EVENT_LOG_WAIT_SECONDS
        )
        params = request.query_params.copy()
        params["cursor"] = after.token()
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return json_response(
            {"results": [EVENT(event) for event in events], "next": next_url, "previous": None}
        )


class EventDetailView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="get_event",
        summary="Get an event",
        description="One event by its id.",
        responses={200: EventOut, **problems(404)},
    )
    async def get(self, request: Request, event_id: uuid.UUID) -> HttpResponse:
        return json_response(EVENT(await event_log.aget_event(event_id)))
