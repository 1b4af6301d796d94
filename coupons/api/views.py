"""Thin async views: parse input, call a service, shape the answer."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.request import Request

from access.api.idempotency import answer, stored_json
from access.api.throttling import count_unknown_code, refuse_throttled_customer
from access.authentication import ApiClient
from access.models import ApiKeyScope
from access.services.idempotency import KeptBy, StoredAnswer
from core.api.base import ApiView
from core.api.fields import validated
from core.api.http import json_response, read_json_object
from core.api.pagination import PAGE_PARAMETERS, list_request, page_json
from core.api.schema import BODY_PROBLEMS, IDEMPOTENCY_KEY, LOCATION, problems
from core.errors import CouponNotFound
from core.workers import in_worker
from coupons.api.schema import (
    BatchOut,
    CodesValidationOut,
    CouponOut,
    CouponPage,
    RedemptionOut,
    RedemptionPage,
    ValidationOut,
)
from coupons.api.serializers import (
    CouponBatchInput,
    CouponCreateInput,
    CouponFilters,
    CouponPatchInput,
)
from coupons.api.use_inputs import RedemptionFilters, RedemptionInput, RevertInput, ValidationInput
from coupons.services import coupons as coupon_service
from coupons.services import redemptions as redemption_service
from coupons.services import validations as validation_service
from coupons.services.batches import acreate_coupon_batch
from coupons.shapes import CODES_VALIDATION, COUPON, REDEMPTION, VALIDATION


class CouponCollectionView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="create_coupon",
        summary="Create a coupon",
        description=(
            "Creates one coupon with its code, number of uses, optional validity window, per-"
            "customer limit, discount and metadata. A code is unique ignoring letter case. Answers"
            " 201 with the coupon and its URL in `Location`."
        ),
        request=CouponCreateInput,
        parameters=[LOCATION],
        responses={201: CouponOut, **problems(*BODY_PROBLEMS, 409, _409="duplicate_code")},
    )
    async def post(self, request: Request) -> HttpResponse:
        fields = validated(CouponCreateInput, read_json_object(request))
        coupon = await coupon_service.acreate_coupon(**fields)
        location = request.build_absolute_uri(f"/v1/coupons/{coupon.id}/")
        return json_response(COUPON(coupon), status=201, headers={"Location": location})

    @extend_schema(
        operation_id="list_coupons",
        summary="List coupons",
        description=(
            "Coupons, newest first, one page at a time; filter by exact code, code prefix, "
            "activity, exhaustion or campaign. Follow `next` to read on."
        ),
        parameters=[CouponFilters, *PAGE_PARAMETERS],
        responses={200: CouponPage, **problems(400)},
    )
    async def get(self, request: Request) -> HttpResponse:
        filters, cursor, size = list_request(request, CouponFilters)
        page = await coupon_service.acoupon_page(cursor=cursor, size=size, **filters)
        return json_response(page_json(request, page, COUPON))


class CouponBatchView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="create_coupon_batch",
        summary="Create many coupons",
        description=(
            "Creates `count` coupons with random codes (an optional prefix, then `length` random "
            "characters), all with the same settings, in one request. Answers with the codes."
        ),
        request=CouponBatchInput,
        responses={201: BatchOut, **problems(*BODY_PROBLEMS)},
    )
    async def post(self, request: Request) -> HttpResponse:
        fields = validated(CouponBatchInput, read_json_object(request))
        codes = await acreate_coupon_batch(**fields)
        return json_response({"created": len(codes), "codes": codes}, status=201)


class CouponDetailView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="get_coupon",
        summary="Get a coupon",
        description="One coupon by its id, with its remaining and held uses.",
        responses={200: CouponOut, **problems(404)},
    )
    async def get(self, request: Request, coupon_id: uuid.UUID) -> HttpResponse:
        return json_response(COUPON(await coupon_service.aget_coupon(coupon_id)))

    @extend_schema(
        operation_id="update_coupon",
        summary="Change a coupon",
        description=(
            "Changes only the fields sent; the code never changes. `init_count` cannot go below "
            "the uses already spent, and the discount cannot change once the coupon was redeemed. "
            "Metadata is merged: a key set to null is removed."
        ),
        request=CouponPatchInput,
        responses={
            200: CouponOut,
            **problems(
                *BODY_PROBLEMS,
                404,
                409,
                _409="count_below_used, or discount_locked: the discount changes only while "
                "the coupon was never redeemed",
            ),
        },
    )
    async def patch(self, request: Request, coupon_id: uuid.UUID) -> HttpResponse:
        changes = validated(CouponPatchInput, read_json_object(request))
        coupon = await coupon_service.aupdate_coupon(coupon_id, changes=changes)
        return json_response(COUPON(coupon))

    @extend_schema(
        operation_id="delete_coupon",
        summary="Delete a coupon",
        description=(
            "Deletes a coupon that was never redeemed and has no live hold. A redeemed coupon "
            "keeps its history: deactivate it instead (`is_active: false`)."
        ),
        responses={
            204: OpenApiResponse(description="Deleted."),
            **problems(404, 409, _409="has_redemptions: deactivate it instead"),
        },
    )
    async def delete(self, request: Request, coupon_id: uuid.UUID) -> HttpResponse:
        await coupon_service.adelete_coupon(coupon_id)
        return HttpResponse(status=204)


class CouponRedemptionsView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="list_coupon_redemptions",
        summary="List a coupon's redemptions",
        description="The redemptions of one coupon, newest first, reverted ones included.",
        parameters=PAGE_PARAMETERS,
        responses={200: RedemptionPage, **problems(400, 404)},
    )
    async def get(self, request: Request, coupon_id: uuid.UUID) -> HttpResponse:
        _, cursor, size = list_request(request)  # no filters, and no unknown parameters
        page = await redemption_service.acoupon_redemption_page(coupon_id, cursor=cursor, size=size)
        return json_response(page_json(request, page, REDEMPTION))


class RedemptionCollectionView(ApiView):
    required_scopes = {"POST": ApiKeyScope.REDEEM, "GET": ApiKeyScope.MANAGE}

    @extend_schema(
        operation_id="redeem",
        summary="Redeem a code",
        description=(
            "Spends one use of the coupon with this code (letter case ignored) for a customer and "
            "an order, and prices the discount on the order. Never more uses than the coupon, its "
            "campaign and the customer's limits allow. Send an `Idempotency-Key` so that a retry "
            "gets the first answer instead of spending twice."
        ),
        request=RedemptionInput,
        parameters=[IDEMPOTENCY_KEY, LOCATION],
        responses={
            201: RedemptionOut,
            **problems(
                *BODY_PROBLEMS, 404, 409, 422, 429,
                _400="validation_error, malformed_json, customer_id_required, "
                "order_required (a coupon with a discount) or lines_required (a targeted "
                "discount on an order without lines)",
                _404="coupon_not_found",
                _409="coupon_exhausted, coupon_inactive, coupon_not_started, coupon_expired, "
                "campaign_inactive, campaign_not_started, campaign_expired, "
                "campaign_exhausted, currency_mismatch, no_eligible_lines, "
                "min_order_amount_not_met or min_quantity_not_met (with details), "
                "budget_exhausted or customer_limit_reached",
            ),
        },
    )  # fmt: skip
    async def post(self, request: Request) -> HttpResponse:
        body = read_json_object(request)
        fields = validated(RedemptionInput, body)
        client: ApiClient = request.user  # type: ignore[assignment]

        def render(redemption: redemption_service.RedemptionRecord) -> StoredAnswer:
            location = request.build_absolute_uri(f"/v1/redemptions/{redemption.id}/")
            return stored_json(REDEMPTION(redemption), status=201, headers={"Location": location})

        def at_once(keep: KeptBy | None) -> StoredAnswer | None:  # produce's first try
            refuse_throttled_customer(
                api_key_id=client.key_id, customer_id=fields.get("customer_id")
            )
            return redemption_service.redeem_at_once(
                **fields, api_key_id=client.key_id, render=render, keep=keep
            )

        def produce() -> StoredAnswer:
            try:
                redemption = redemption_service.redeem_coupon(
                    **fields, api_key_id=client.key_id, at_once=False
                )
            except CouponNotFound:
                count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
                raise
            return render(redemption)

        return await answer(request, body, produce, at_once)

    @extend_schema(
        operation_id="list_redemptions",
        summary="List redemptions",
        description=(
            "Redemptions, newest first; filter by coupon, customer, order or whether reverted."
        ),
        parameters=[RedemptionFilters, *PAGE_PARAMETERS],
        responses={200: RedemptionPage, **problems(400)},
    )
    async def get(self, request: Request) -> HttpResponse:
        filters, cursor, size = list_request(request, RedemptionFilters)
        page = await redemption_service.aredemption_page(cursor=cursor, size=size, **filters)
        return json_response(page_json(request, page, REDEMPTION))


class RedemptionDetailView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="get_redemption",
        summary="Get a redemption",
        description="One redemption by its id.",
        responses={200: RedemptionOut, **problems(404)},
    )
    async def get(self, request: Request, redemption_id: uuid.UUID) -> HttpResponse:
        return json_response(REDEMPTION(await redemption_service.aget_redemption(redemption_id)))


class RedemptionRevertView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="revert_redemption",
        summary="Revert a redemption",
        description=(
            "Gives the redemption's use back to its coupon (and its campaign and customer), for a "
            "cancelled order. A redemption is reverted once; again is a 409. Idempotent with an "
            "`Idempotency-Key`."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: RedemptionOut,
            **problems(*BODY_PROBLEMS, 404, 409, 422, _409="already_reverted"),
        },
    )
    async def post(self, request: Request, redemption_id: uuid.UUID) -> HttpResponse:
        body = read_json_object(request)
        validated(RevertInput, body)

        def produce() -> StoredAnswer:
            reverted = redemption_service.revert_redemption(redemption_id)
            return stored_json(REDEMPTION(reverted), status=200)

        return await answer(request, body, produce)


class ValidationView(ApiView):
    required_scope = ApiKeyScope.REDEEM

    @extend_schema(
        operation_id="validate_code",
        summary="Check a code",
        description=(
            "Tells whether a code could be redeemed now (and, with an order, what its discount "
            "would be), spending nothing. A code that cannot be redeemed is a 200 with `valid: "
            "false` and the reason."
        ),
        request=ValidationInput,
        responses={
            200: PolymorphicProxySerializer(
                component_name="ValidationAnswer",
                serializers=[ValidationOut, CodesValidationOut],
                resource_type_field_name=None,
            ),
            **problems(
                *BODY_PROBLEMS,
                429,
                _400="validation_error, malformed_json, or lines_required (a targeted "
                "discount on an order without lines)",
            ),
        },
    )
    async def post(self, request: Request) -> HttpResponse:
        fields = validated(ValidationInput, read_json_object(request))
        client: ApiClient = request.user  # type: ignore[assignment]

        def check() -> validation_service.ValidationResult:
            refuse_throttled_customer(
                api_key_id=client.key_id, customer_id=fields.get("customer_id")
            )
            result = validation_service.validate_code(**fields)
            if result.reason == CouponNotFound.code:
                count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
            return result

        def check_codes() -> validation_service.CodesValidation:
            refuse_throttled_customer(
                api_key_id=client.key_id, customer_id=fields.get("customer_id")
            )
            result = validation_service.validate_codes(**fields)
            for _ in (r for r in result.results if r.reason == CouponNotFound.code):
                count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
            return result

        if "codes" in fields:
            return json_response(CODES_VALIDATION(await in_worker(check_codes)()))
        return json_response(VALIDATION(await in_worker(check)()))
