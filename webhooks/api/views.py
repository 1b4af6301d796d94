"""Thin async views of /v1/webhook-endpoints/: parse input, call the webhook service,
shape the answer. The secret is in the 201 only."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request

from access.models import ApiKeyScope
from core.api.base import ApiView
from core.api.fields import validated
from core.api.http import json_response, read_json_object
from core.api.pagination import PAGE_PARAMETERS, list_request, page_json
from core.api.schema import BODY_PROBLEMS, LOCATION, page_of, problems
from core.api.shapes import serializer_of
from webhooks.api.serializers import WebhookEndpointCreateInput, WebhookEndpointPatchInput
from webhooks.services import endpoints as webhook_service
from webhooks.shapes import WEBHOOK_ATTEMPT, WEBHOOK_ENDPOINT, WEBHOOK_ENDPOINT_CREATED

EndpointOut = serializer_of(WEBHOOK_ENDPOINT)
AttemptOut = serializer_of(WEBHOOK_ATTEMPT)


WebhookEndpointPage = page_of(EndpointOut, "WebhookEndpointPage")


WebhookAttemptPage = page_of(AttemptOut, "WebhookAttemptPage")


class WebhookEndpointCollectionView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="create_webhook_endpoint",
        summary="Subscribe a URL to events",
        description=(
            "Registers an https URL to receive the chosen event types as signed POSTs. The answer "
            "holds the signing `secret`, shown only here."
        ),
        request=WebhookEndpointCreateInput,
        parameters=[LOCATION],
        responses={
            201: serializer_of(WEBHOOK_ENDPOINT_CREATED),
            **problems(
                *BODY_PROBLEMS,
                _400="validation_error: an unknown event type, or a URL refused (not https, "
                "credentials in it, or a host resolving to a non-public address)",
            ),
        },
    )
    async def post(self, request: Request) -> HttpResponse:
        fields = validated(WebhookEndpointCreateInput, read_json_object(request))
        endpoint = await webhook_service.acreate_endpoint(**fields)
        location = request.build_absolute_uri(f"/v1/webhook-endpoints/{endpoint.id}/")
        return json_response(
            WEBHOOK_ENDPOINT_CREATED(endpoint), status=201, headers={"Location": location}
        )

    @extend_schema(
        operation_id="list_webhook_endpoints",
        summary="List webhook endpoints",
        description="Webhook endpoints, newest first.",
        parameters=PAGE_PARAMETERS,
        responses={200: WebhookEndpointPage, **problems(400)},
    )
    async def get(self, request: Request) -> HttpResponse:
        _, cursor, size = list_request(request)
        page = await webhook_service.aendpoint_page(cursor=cursor, size=size)
        return json_response(page_json(request, page, WEBHOOK_ENDPOINT))


class WebhookEndpointDetailView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="get_webhook_endpoint",
        summary="Get a webhook endpoint",
        description="One webhook endpoint by its id.",
        responses={200: EndpointOut, **problems(404)},
    )
    async def get(self, request: Request, endpoint_id: uuid.UUID) -> HttpResponse:
        return json_response(WEBHOOK_ENDPOINT(await webhook_service.aget_endpoint(endpoint_id)))

    @extend_schema(
        operation_id="update_webhook_endpoint",
        summary="Change a webhook endpoint",
        description=(
            "Changes only the fields sent: URL, event types, description, or `is_active` (to turn "
            "an endpoint the service disabled back on)."
        ),
        request=WebhookEndpointPatchInput,
        responses={200: EndpointOut, **problems(*BODY_PROBLEMS, 404)},
    )
    async def patch(self, request: Request, endpoint_id: uuid.UUID) -> HttpResponse:
        changes = validated(WebhookEndpointPatchInput, read_json_object(request))
        endpoint = await webhook_service.aupdate_endpoint(endpoint_id, changes=changes)
        return json_response(WEBHOOK_ENDPOINT(endpoint))

    @extend_schema(
        operation_id="delete_webhook_endpoint",
        summary="Delete a webhook endpoint",
        description="Deletes the endpoint and its delivery log; nothing more is sent to it.",
        responses={
            204: OpenApiResponse(description="Deleted, with its delivery log."),
            **problems(404),
        },
    )
    async def delete(self, request: Request, endpoint_id: uuid.UUID) -> HttpResponse:
        await webhook_service.adelete_endpoint(endpoint_id)
        return HttpResponse(status=204)


class WebhookDeliveriesView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="list_webhook_deliveries",
        summary="List an endpoint's deliveries",
        description=(
            "Each delivery attempt to the endpoint, newest first: its event, status, the "
            "receiver's HTTP status and duration, and when the next attempt is due."
        ),
        parameters=PAGE_PARAMETERS,
        responses={200: WebhookAttemptPage, **problems(400, 404)},
    )
    async def get(self, request: Request, endpoint_id: uuid.UUID) -> HttpResponse:
        _, cursor, size = list_request(request)
        page = await webhook_service.aattempt_page(endpoint_id, cursor=cursor, size=size)
        return json_response(page_json(request, page, WEBHOOK_ATTEMPT))
