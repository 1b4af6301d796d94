"""Several codes on one order, all or none: redeemed together (coupons.services.groups), or
held together during payment, then confirmed or released (coupons.services.hold_groups)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from access.api.idempotency import answer, stored_json
from access.api.throttling import count_unknown_code, refuse_throttled_customer
from access.authentication import ApiClient
from access.models import ApiKeyScope
from access.services.idempotency import StoredAnswer
from core.api.base import ApiView
from core.api.fields import InputSerializer, validated
from core.api.http import json_response, read_json_object
from core.api.schema import BODY_PROBLEMS, IDEMPOTENCY_KEY, LOCATION, problems
from core.errors import CouponNotFound
from core.shaping import Shape
from coupons.api.schema import RedemptionGroupOut, ReservationGroupOut
from coupons.api.use_inputs import RedemptionGroupInput, ReservationGroupInput, RevertInput
from coupons.services import groups as group_service
from coupons.services import hold_groups as hold_group_service
from coupons.shapes import REDEMPTION_GROUP, RESERVATION_GROUP


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
        return await create_group(
            request, RedemptionGroupInput, group_service.redeem_codes, REDEMPTION_GROUP,
            "/v1/redemption-groups/",
        )  # fmt: skip


async def create_group(
    request: Request, given: type[InputSerializer], create: Callable[..., Any], shape: Shape,
    collection: str,
) -> HttpResponse:  # fmt: skip
    """A group's POST: its codes checked against the unknown-code throttle as a single
    redemption's or hold's are, `create` run under the Idempotency-Key, 201 with its URL."""
    body = read_json_object(request)
    fields = validated(given, body)
    client: ApiClient = request.user  # type: ignore[assignment]

    def produce() -> StoredAnswer:
        refuse_throttled_customer(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
        try:
            group = create(**fields, api_key_id=client.key_id)
        except CouponNotFound:
            count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
            raise
        location = request.build_absolute_uri(f"{collection}{group.id}/")
        return stored_json(shape(group), status=201, headers={"Location": location})

    return await answer(request, body, produce)


async def settle_group(request: Request, produce: Callable[[], StoredAnswer]) -> HttpResponse:
    """A group's revert, confirm or release: no fields, under the Idempotency-Key."""
    body = read_json_object(request)
    validated(RevertInput, body)
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
        def produce() -> StoredAnswer:
            group = group_service.revert_redemption_group(group_id)
            return stored_json(REDEMPTION_GROUP(group), status=200)

        return await settle_group(request, produce)


_SETTLED = "reservation_expired, reservation_released or already_confirmed: the group's"


class ReservationGroupCollectionView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="hold_group",
        summary="Hold several codes on one order during payment",
        description=(
            "Holds up to five codes together, all or none, for `ttl_seconds`, taking what"
            " redeeming them as a group would take: each code's discount is applied in the"
            " contract's order (product, order, shipping) on what the ones before it left."
            " Confirm the group when payment succeeds, or release it; a group that is neither"
            " comes back by itself when it expires. 201 with the group, its member holds and its"
            " URL in `Location`; a refused code refuses the group and nothing is held."
            " Idempotent with an `Idempotency-Key`."
        ),
        request=ReservationGroupInput,
        parameters=[IDEMPOTENCY_KEY, LOCATION],
        responses={
            201: ReservationGroupOut,
            **problems(
                *BODY_PROBLEMS, 404, 409, 422, 429,
                _400="validation_error, malformed_json, customer_id_required, order_required "
                "or lines_required (details.code names the code)",
                _404="coupon_not_found, with details.code",
                _409="any refusal of POST /v1/reservations/, or not_combinable; "
                "details.code names the refused code; nothing is held",
            ),
        },
    )  # fmt: skip
    async def post(self, request: Request) -> HttpResponse:
        return await create_group(
            request, ReservationGroupInput, hold_group_service.hold_codes, RESERVATION_GROUP,
            "/v1/reservation-groups/",
        )  # fmt: skip


class ReservationGroupDetailView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="get_reservation_group",
        summary="Get a reservation group",
        description="The group as held, with its status and each member hold as it is now.",
        responses={200: ReservationGroupOut, **problems(404)},
    )
    async def get(self, request: Request, group_id: uuid.UUID) -> HttpResponse:
        group = await hold_group_service.aget_reservation_group(group_id)
        return json_response(RESERVATION_GROUP(group))


class ReservationGroupConfirmView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="confirm_reservation_group",
        summary="Confirm a reservation group",
        description=(
            "Turns every hold of a live group into a redemption, all or none: 201 with the"
            " redemption group they form, its URL in `Location`. Idempotent with an"
            " `Idempotency-Key`."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY, LOCATION],
        responses={
            201: RedemptionGroupOut,
            **problems(*BODY_PROBLEMS, 404, 409, 422, _409=_SETTLED),
        },
    )
    async def post(self, request: Request, group_id: uuid.UUID) -> HttpResponse:
        def produce() -> StoredAnswer:
            group = hold_group_service.confirm_reservation_group(group_id)
            location = request.build_absolute_uri(f"/v1/redemption-groups/{group.id}/")
            return stored_json(REDEMPTION_GROUP(group), status=201, headers={"Location": location})

        return await settle_group(request, produce)


class ReservationGroupReleaseView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="release_reservation_group",
        summary="Release a reservation group",
        description=(
            "Gives back every use a live group holds, all or none (payment failed or the cart"
            " was abandoned): 200 with the group, released. Idempotent with an"
            " `Idempotency-Key`."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: ReservationGroupOut,
            **problems(*BODY_PROBLEMS, 404, 409, 422, _409=_SETTLED),
        },
    )
    async def post(self, request: Request, group_id: uuid.UUID) -> HttpResponse:
        def produce() -> StoredAnswer:
            group = hold_group_service.release_reservation_group(group_id)
            return stored_json(RESERVATION_GROUP(group), status=200)

        return await settle_group(request, produce)
