"""Thin async views of reservations: hold a use during payment, confirm, release."""

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
from coupons.api.schema import RedemptionOut, ReservationOut
from coupons.api.use_inputs import ReservationInput, RevertInput
from coupons.services import reservations as reservation_service
from coupons.shapes import REDEMPTION, RESERVATION

_SETTLED = (
    "reservation_expired, reservation_released, already_confirmed, or held_in_group (a hold of a"
    " reservation group: confirm or release the group)"
)


class ReservationCollectionView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="hold",
        summary="Hold a use during payment",
        description=(
            "Takes one use of the code, as a redemption would, for `ttl_seconds`: confirm the hold"
            " when payment succeeds, or release it. A hold that is neither comes back by itself "
            "when it expires. Idempotent with an `Idempotency-Key`."
        ),
        request=ReservationInput,
        parameters=[IDEMPOTENCY_KEY, LOCATION],
        responses={
            201: ReservationOut,
            **problems(
                *BODY_PROBLEMS, 404, 409, 422, 429,
                _400="validation_error, malformed_json, customer_id_required, order_required "
                "or lines_required",
                _404="coupon_not_found",
                _409="the refusals of POST /v1/redemptions/",
            ),
        },
    )  # fmt: skip
    async def post(self, request: Request) -> HttpResponse:
        body = read_json_object(request)
        fields = validated(ReservationInput, body)
        client: ApiClient = request.user  # type: ignore[assignment]

        def produce() -> StoredAnswer:
            # As a redemption: a hold answers the same question about a code.
            refuse_throttled_customer(
                api_key_id=client.key_id, customer_id=fields.get("customer_id")
            )
            try:
                held = reservation_service.hold_coupon(**fields, api_key_id=client.key_id)
            except CouponNotFound:
                count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
                raise
            location = request.build_absolute_uri(f"/v1/reservations/{held.id}/")
            return stored_json(RESERVATION(held), status=201, headers={"Location": location})

        return await answer(request, body, produce)


class ReservationDetailView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="get_reservation",
        summary="Get a hold",
        description="One hold by its id, with its status.",
        responses={200: ReservationOut, **problems(404)},
    )
    async def get(self, request: Request, reservation_id: uuid.UUID) -> HttpResponse:
        held = await reservation_service.aget_reservation(reservation_id)
        return json_response(RESERVATION(held))


class ReservationConfirmView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="confirm_reservation",
        summary="Confirm a hold",
        description=(
            "Turns a live hold into a redemption (201, the redemption, its URL in `Location`). "
            "Idempotent with an `Idempotency-Key`."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY, LOCATION],
        responses={
            201: RedemptionOut,
            **problems(*BODY_PROBLEMS, 404, 409, 422, _409=_SETTLED),
        },
    )
    async def post(self, request: Request, reservation_id: uuid.UUID) -> HttpResponse:
        body = read_json_object(request)
        validated(RevertInput, body)

        def produce() -> StoredAnswer:
            redemption = reservation_service.confirm_reservation(reservation_id)
            location = request.build_absolute_uri(f"/v1/redemptions/{redemption.id}/")
            return stored_json(REDEMPTION(redemption), status=201, headers={"Location": location})

        return await answer(request, body, produce)


class ReservationReleaseView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="release_reservation",
        summary="Release a hold",
        description=(
            "Gives a live hold's use back at once (payment failed or the cart was abandoned). "
            "Idempotent with an `Idempotency-Key`."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: ReservationOut,
            **problems(*BODY_PROBLEMS, 404, 409, 422, _409=_SETTLED),
        },
    )
    async def post(self, request: Request, reservation_id: uuid.UUID) -> HttpResponse:
        body = read_json_object(request)
        validated(RevertInput, body)

        def produce() -> StoredAnswer:
            released = reservation_service.release_reservation(reservation_id)
            return stored_json(RESERVATION(released), status=200)

        return await answer(request, body, produce)
