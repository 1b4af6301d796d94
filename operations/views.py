"""What operators call: liveness, readiness (with the webhook backlog) and Prometheus
metrics (config.observability keeps the registry)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from prometheus_client import generate_latest
from rest_framework import serializers
from rest_framework.request import Request

from config.observability import WEBHOOKS_OLDEST_DUE, WEBHOOKS_PENDING, registry
from core.api.base import ApiView
from core.api.http import json_response
from core.api.problems import problem_response, route_not_found
from core.api.schema import problems
from operations.probes import adatabase_answers
from webhooks.services.endpoints import apending_backlog


@extend_schema_serializer(component_name="WebhookBacklog")
class WebhookBacklog(serializers.Serializer):
    """Webhook deliveries waiting to go out."""

    pending = serializers.IntegerField(min_value=0, help_text="Deliveries waiting.")
    oldest_due_seconds = serializers.FloatField(
        min_value=0, help_text="How long the oldest due delivery has waited."
    )


class Health(serializers.Serializer):
    """The server's state: `ok` (anything else is a problem answer)."""

    status = serializers.ChoiceField(choices=["ok"])
    database = serializers.ChoiceField(choices=["ok"], required=False, help_text="/readyz only.")
    webhooks = WebhookBacklog(required=False, help_text="/readyz: the webhook delivery backlog.")


class HealthView(ApiView):
    """Liveness: the process answers. No key, no database."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(
        operation_id="healthz",
        summary="Liveness",
        description="Answers 200 while the process runs. No key, no database.",
        responses={200: Health, **problems(authenticated=False)},
        tags=["operations"],
        auth=[],
    )
    async def get(self, request: Request) -> HttpResponse:
        return json_response({"status": "ok"})


class ReadyView(ApiView):
    """Readiness: the database answers."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(
        operation_id="readyz",
        summary="Readiness",
        description=(
            "200 while the database answers, with the webhook delivery backlog; 503 otherwise "
            "(take the server out of rotation). No key."
        ),
        responses={
            200: Health,
            **problems(
                503, authenticated=False, _503="database_unavailable: the database does not answer"
            ),
        },
        tags=["operations"],
        auth=[],
    )
    async def get(self, request: Request) -> HttpResponse:
        if await adatabase_answers():
            pending, oldest = await apending_backlog()
            # The webhook backlog is shown, not judged: a receiver that is down makes a
            # backlog, and taking this server out of rotation would not bring it back.
            webhooks = {"pending": pending, "oldest_due_seconds": round(oldest, 1)}
            return json_response({"status": "ok", "database": "ok", "webhooks": webhooks})
        return problem_response(
            "database_unavailable", "The database does not answer.", headers={"Retry-After": "1"}
        )


async def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; 404 unless METRICS_TOKEN is set and presented."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    # Constant time, so the token cannot be guessed a character at a time from response
    # times; bytes, as compare_digest refuses str with non-ASCII characters (a TypeError).
    if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return route_not_found(request)
    # One hop to the database per scrape (a collector runs in the event loop, where the
    # ORM may not); the series stays at its last value when the database does not answer.
    try:
        pending, oldest = await apending_backlog()
    except DatabaseError:
        pass
    else:
        WEBHOOKS_PENDING.set(pending)
        WEBHOOKS_OLDEST_DUE.set(oldest)
    return HttpResponse(generate_latest(registry), content_type="text/plain; version=0.0.4")
