"""Thin async views of /v1/campaigns/: parse input, call the campaign service, shape the
answer."""

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
from coupons.api.campaign_serializers import (
    CampaignCreateInput,
    CampaignFilters,
    CampaignPatchInput,
)
from coupons.services import campaigns as campaign_service
from coupons.shapes import CAMPAIGN

CampaignOut = serializer_of(CAMPAIGN)


CampaignPage = page_of(CampaignOut, "CampaignPage")


class CampaignCollectionView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="create_campaign",
        summary="Create a campaign",
        description=(
            "A campaign groups codes under one discount, an optional window, a total "
            "`max_redemptions`, a per-customer limit and a budget of discount money. Add codes to "
            "it with `campaign_id` on coupon creation, batches or imports."
        ),
        request=CampaignCreateInput,
        parameters=[LOCATION],
        responses={201: CampaignOut, **problems(*BODY_PROBLEMS)},
    )
    async def post(self, request: Request) -> HttpResponse:
        fields = validated(CampaignCreateInput, read_json_object(request))
        campaign = await campaign_service.acreate_campaign(**fields)
        location = request.build_absolute_uri(f"/v1/campaigns/{campaign.id}/")
        return json_response(CAMPAIGN(campaign), status=201, headers={"Location": location})

    @extend_schema(
        operation_id="list_campaigns",
        summary="List campaigns",
        description="Campaigns, newest first; filter by activity.",
        parameters=[CampaignFilters, *PAGE_PARAMETERS],
        responses={200: CampaignPage, **problems(400)},
    )
    async def get(self, request: Request) -> HttpResponse:
        filters, cursor, size = list_request(request, CampaignFilters)
        page = await campaign_service.acampaign_page(cursor=cursor, size=size, **filters)
        return json_response(page_json(request, page, CAMPAIGN))


class CampaignDetailView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="get_campaign",
        summary="Get a campaign",
        description=(
            "One campaign by its id, with its redemptions, holds, discount total and budget left."
        ),
        responses={200: CampaignOut, **problems(404)},
    )
    async def get(self, request: Request, campaign_id: uuid.UUID) -> HttpResponse:
        return json_response(CAMPAIGN(await campaign_service.aget_campaign(campaign_id)))

    @extend_schema(
        operation_id="update_campaign",
        summary="Change a campaign",
        description=(
            "Changes only the fields sent. The budget cannot go below what was already given, nor "
            "`max_redemptions` below the live redemptions and holds; the discount cannot change "
            "once a code was redeemed."
        ),
        request=CampaignPatchInput,
        responses={
            200: CampaignOut,
            **problems(
                *BODY_PROBLEMS, 404, 409,
                _409="discount_locked (a code was redeemed), budget_below_spent or "
                "count_below_used (max_redemptions below the live redemptions and holds)",
            ),
        },
    )  # fmt: skip
    async def patch(self, request: Request, campaign_id: uuid.UUID) -> HttpResponse:
        changes = validated(CampaignPatchInput, read_json_object(request))
        campaign = await campaign_service.aupdate_campaign(campaign_id, changes=changes)
        return json_response(CAMPAIGN(campaign))

    @extend_schema(
        operation_id="delete_campaign",
        summary="Delete a campaign",
        description=(
            "Deletes a campaign and its codes when none was ever redeemed; otherwise deactivate it."
        ),
        responses={
            204: OpenApiResponse(description="Deleted, with its codes."),
            **problems(404, 409, _409="has_redemptions: deactivate it instead"),
        },
    )
    async def delete(self, request: Request, campaign_id: uuid.UUID) -> HttpResponse:
        await campaign_service.adelete_campaign(campaign_id)
        return HttpResponse(status=204)
