"""Thin async views: parse input, call the repository, shape the answer."""

from __future__ import annotations

import uuid

from adrf.views import APIView
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request

from coupons import repository
from coupons.api.http import json_response, problem_response, read_json_object
from coupons.api.idempotency import answer, stored_json
from coupons.api.pagination import page_json, page_request
from coupons.api.serializers import (
    CouponCreateInput,
    RedemptionFilters,
    RedemptionInput,
    ValidationInput,
    validated,
)
from coupons.api.shapes import coupon_json, redemption_json, validation_json
from coupons.errors import CouponNotFound
from coupons.models import ApiKeyScope
from coupons.throttling import count_unknown_code


class CouponCollectionView(APIView):
    required_scope = ApiKeyScope.MANAGE

    async def post(self, request: Request) -> HttpResponse:
        fields = validated(CouponCreateInput, read_json_object(request))
        coupon = await repository.acreate_coupon(**fields)
        location = request.build_absolute_uri(f"/v1/coupons/{coupon.id}/")
        return json_response(coupon_json(coupon), status=201, headers={"Location": location})


class CouponDetailView(APIView):
    required_scope = ApiKeyScope.MANAGE

    async def get(self, request: Request, coupon_id: uuid.UUID) -> HttpResponse:
        return json_response(coupon_json(await repository.aget_coupon(coupon_id)))


class CouponRedemptionsView(APIView):
    required_scope = ApiKeyScope.MANAGE

    async def get(self, request: Request, coupon_id: uuid.UUID) -> HttpResponse:
        cursor, size = page_request(request)
        page = await repository.acoupon_redemption_page(coupon_id, cursor=cursor, size=size)
        return json_response(page_json(request, page, redemption_json))


class RedemptionCollectionView(APIView):
    required_scopes = {"POST": ApiKeyScope.REDEEM, "GET": ApiKeyScope.MANAGE}

    async def post(self, request: Request) -> HttpResponse:
        body = read_json_object(request)
        fields = validated(RedemptionInput, body)
        client: repository.ApiClient = request.user  # type: ignore[assignment]

        def produce() -> repository.StoredResponse:
            try:
                redemption = repository.redeem_coupon(**fields, api_key_id=client.key_id)
            except CouponNotFound:
                count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
                raise
            location = request.build_absolute_uri(f"/v1/redemptions/{redemption.id}/")
            return stored_json(
                redemption_json(redemption), status=201, headers={"Location": location}
            )

        return await answer(request, body, produce)

    async def get(self, request: Request) -> HttpResponse:
        filters = validated(RedemptionFilters, dict(request.query_params.items()))
        cursor, size = page_request(request)
        page = await repository.aredemption_page(cursor=cursor, size=size, **filters)
        return json_response(page_json(request, page, redemption_json))


class RedemptionDetailView(APIView):
    required_scope = ApiKeyScope.REDEEM

    async def get(self, request: Request, redemption_id: uuid.UUID) -> HttpResponse:
        return json_response(redemption_json(await repository.aget_redemption(redemption_id)))


class RedemptionRevertView(APIView):
    required_scope = ApiKeyScope.REDEEM

    async def post(self, request: Request, redemption_id: uuid.UUID) -> HttpResponse:
        body = read_json_object(request)

        def produce() -> repository.StoredResponse:
            reverted = repository.revert_redemption(redemption_id)
            return stored_json(redemption_json(reverted), status=200)

        return await answer(request, body, produce)


class ValidationView(APIView):
    required_scope = ApiKeyScope.REDEEM

    async def post(self, request: Request) -> HttpResponse:
        fields = validated(ValidationInput, read_json_object(request))
        client: repository.ApiClient = request.user  # type: ignore[assignment]

        def check() -> repository.ValidationResult:
            result = repository.validate_code(**fields)
            if result.reason == CouponNotFound.code:
                count_unknown_code(api_key_id=client.key_id, customer_id=fields.get("customer_id"))
            return result

        return json_response(validation_json(await sync_to_async(check)()))


async def healthz(request: HttpRequest) -> HttpResponse:
    return json_response({"status": "ok"})


async def readyz(request: HttpRequest) -> HttpResponse:
    if await repository.adatabase_answers():
        return json_response({"status": "ok", "database": "ok"})
    return problem_response(
        status=503,
        code="database_unavailable",
        title="Database unavailable",
        detail="The database does not answer.",
        headers={"Retry-After": "1"},
    )
