"""Thin async views: parse input, call the repository, shape the answer."""

from __future__ import annotations

import uuid

from adrf.views import APIView
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request

from coupons import repository
from coupons.api.http import json_response, problem_response, read_json_object
from coupons.api.serializers import CouponCreateInput, validated
from coupons.api.shapes import coupon_json
from coupons.models import ApiKeyScope


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
