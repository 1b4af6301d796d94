"""Several codes on one order: redeemed together, all or none (coupons.services.groups)."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from access.api.idempotency import answer, stored_json
from access.api.throttling import count_unknown_code, refuse_throttled_customer
from access.authentication import ApiClient
from access.models import ApiKeyScope
from access.services.idempotency import StoredAnswer
from core.api.base import ApiView
from core.api.fields import validated
from core.api.http import json_response, read_json_object
from core.api.schema import BODY_PROBLEMS, IDEMPOTENCY_KEY, LOCATION, problems
from core.errors import CouponNotFound
from coupons.api.schema import RedemptionGroupOut
from coupons.api.use_inputs import RedemptionGroupInput, RevertInput
from coupons.services import groups as group_service
from coupons.shapes import REDEMPTION_GROUP


class RedemptionGroupCollectionView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="redeem_group",
        summary="Redeem several codes on one order",
        description=(
            "Redeems up to five codes together, all or none, in one transaction: each code's"
            " discount is applied in the contract's order (product, order, shipping) on what"
            " the ones before it left. 201 with the group, its members and its URL in"
            " `Location`; a refused code refuses the group and nothing is spent."
        ),
        request=RedemptionGroupInput,
        parameters=[IDEMPOTENCY_KEY, LOCATION],
        responses={
            201: RedemptionGroupOut,
            **problems(
                *BODY_PROBLEMS, 404, 409, 422, 429,
                _404="coupon_not_found, with details.code",
                _409="any refusal of POST /v1/redemptions/, or not_combinable; "
                "details.code names the refused code; nothing is spent",
            ),
        },
    )  # fmt: skip
    async def post(self, request: Request) -> HttpResponse:
        body = read_json_object(request)
        fields = validated(RedemptionGroupInput, body)
        client: ApiClient = request.user  # type: ignore[assignment]

        def produce() -> StoredAnswer:
            refuse_throttled_customer(
                api_key_id=client.key_id, customer_id=fields.get("customer_id")
            )
            try:
                group = group_service.redeem_codes(**fields, api_key_id=client.key_id)
            except CouponNotFound:
                count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
                raise
            location = request.build_absolute_uri(f"/v1/redemption-groups/{group.id}/")
            return stored_json(REDEMPTION_GROUP(group), status=201, headers={"Location": location})

        return await answer(request, body, produce)


class RedemptionGroupDetailView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="get_redemption_group",
        summary="Get a redemption group",
        description="The group as redeemed, with each member redemption as it is now.",
        responses={200: RedemptionGroupOut, **problems(404)},
    )
    async def get(self, request: Request, group_id: uuid.UUID) -> HttpResponse:
        group = await group_service.aget_redemption_group(group_id)
        return json_response(REDEMPTION_GROUP(group))


class RedemptionGroupRevertView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="revert_redemption_group",
        summary="Revert a redemption group",
        description=(
            "Reverts every live redemption of the group at once (an order cancelled): their"
            " uses, capacity and budget come back. 409 already_reverted when none was live."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: RedemptionGroupOut,
            **problems(*BODY_PROBLEMS, 404, 409, 422, _409="already_reverted: none was live"),
        },
    )
    async def post(self, request: Request, group_id: uuid.UUID) -> HttpResponse:
        body = read_json_object(request)
        validated(RevertInput, body)

        def produce() -> StoredAnswer:
            group = group_service.revert_redemption_group(group_id)
            return stored_json(REDEMPTION_GROUP(group), status=200)

        return await answer(request, body, produce)
