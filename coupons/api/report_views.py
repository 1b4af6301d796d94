"""Thin async views of the reports: `GET /v1/coupons/{id}/report/`,
`GET /v1/campaigns/{id}/report/` and the CSV of `GET /v1/redemptions/export/`
(coupons.services.reports)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request

from access.models import ApiKeyScope
from core.api.base import ApiView
from core.api.fields import InputSerializer, StrictUUIDField, validated
from core.api.http import json_response
from core.api.schema import problems
from core.errors import ValidationFailed
from core.shaping import rfc3339
from coupons.api.serializers import TIMESTAMP_PATTERN, TextField, TimestampField
from coupons.services import exports, reports


class ReportParams(InputSerializer):
    """The query string of a report; `from` is a Python keyword, hence get_fields."""

    to = TimestampField(required=False)
    interval = serializers.ChoiceField(choices=reports.INTERVALS, required=False, default="day")
    tz = TextField(required=False, default="UTC", max_length=64)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = TimestampField(required=False)
        return fields


_TIMESTAMP = {"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN}
_ZONES = sorted(reports.zone_names())
# Names for a generated client's enum members: GMT-0, GMT+0 and GMT0 are three zones.
_ZONE_NAMES = [re.sub(r"\+", "_plus_", re.sub(r"-(?=\d)", "_minus_", zone)) for zone in _ZONES]

REPORT_PARAMETERS = [
    OpenApiParameter(
        "from", _TIMESTAMP, required=False,
        description="RFC 3339 with an offset; default 30 days before `to`. Before `to`, by "
        f"at most {reports.MAX_DAYS} days.",
    ),
    OpenApiParameter(
        "to", _TIMESTAMP, required=False,
        description="RFC 3339 with an offset, excluded; default now.",
    ),
    OpenApiParameter("interval", {"type": "string", "enum": list(reports.INTERVALS)},
                     required=False, description="day (default) or hour, of `tz`."),
    OpenApiParameter("tz", {"type": "string", "enum": _ZONES, "x-enum-varnames": _ZONE_NAMES},
                     required=False,
                     description="An IANA time zone, like Europe/Berlin; default UTC."),
]  # fmt: skip


def report_params(request: Request) -> dict[str, Any]:
    """The report's parameters as the service takes them; an unknown or repeated parameter
    is a 400 naming it."""
    params = request.query_params
    allowed = set(ReportParams().fields)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValidationFailed(
            {name: [f"Unknown parameter; use {', '.join(sorted(allowed))}."] for name in unknown}
        )
    repeated = sorted(name for name in params if len(params.getlist(name)) > 1)
    if repeated:
        raise ValidationFailed({name: ["Give it once."] for name in repeated})
    found = validated(ReportParams, dict(params.items()))
    return {
        "start": found.get("from"),
        "end": found.get("to"),
        "interval": found["interval"],
        "tz": found["tz"],
    }


def report_json(report: reports.Report) -> dict[str, Any]:
    totals = report.totals
    return {
        "from": rfc3339(report.start),
        "to": rfc3339(report.end),
        "interval": report.interval,
        "tz": report.tz,
        "totals": {
            "redemptions": totals.redemptions,
            "reverted": totals.reverted,
            "live": totals.live,
            "discount_total": totals.discount_total,
            "order_total": totals.order_total,
            "unique_customers": totals.unique_customers,
            "holds_confirmed": totals.holds_confirmed,
            "holds_released": totals.holds_released,
            "holds_expired": totals.holds_expired,
        },
        "series": [
            {
                # With the zone's offset at that instant, as the contract writes it.
                "start": bucket.start.isoformat(),
                "redemptions": bucket.redemptions,
                "reverted": bucket.reverted,
                "discount_amount": bucket.discount_amount,
                "order_amount": bucket.order_amount,
            }
            for bucket in report.series
        ],
    }


@extend_schema_serializer(component_name="ReportTotals")
class TotalsOut(serializers.Serializer):
    """The period's figures in all."""

    redemptions = serializers.IntegerField(help_text="Made in [from, to).")
    reverted = serializers.IntegerField(help_text="Of those, reverted since (at any time).")
    live = serializers.IntegerField()
    discount_total = serializers.IntegerField(help_text="Over the live ones, minor units.")
    order_total = serializers.IntegerField(help_text="Over the live ones, minor units.")
    unique_customers = serializers.IntegerField(help_text="Distinct customer_id, live ones.")
    holds_confirmed = serializers.IntegerField(help_text="Holds taken in [from, to).")
    holds_released = serializers.IntegerField()
    holds_expired = serializers.IntegerField(help_text="Swept or past expires_at.")


@extend_schema_serializer(component_name="ReportInterval")
class IntervalOut(serializers.Serializer):
    """One day, week or month of the period."""

    start = serializers.CharField(help_text="First instant, with the zone's offset then.")
    redemptions = serializers.IntegerField()
    reverted = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    order_amount = serializers.IntegerField()


class ReportOut(serializers.Serializer):
    """How a coupon's or campaign's codes were used over a period: totals and a series."""

    to = serializers.DateTimeField()
    interval = serializers.CharField()
    tz = serializers.CharField()
    totals = TotalsOut()
    series = IntervalOut(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": serializers.DateTimeField(), **super().get_fields()}


extend_schema_serializer(component_name="Report")(ReportOut)


class CouponReportView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="coupon_report",
        summary="Report a coupon's use",
        description=(
            "Redemptions, reverts and discounts given for one coupon, in total and per day, week "
            "or month over a period."
        ),
        parameters=REPORT_PARAMETERS,
        responses={200: ReportOut, **problems(400, 404)},
    )
    async def get(self, request: Request, coupon_id: uuid.UUID) -> HttpResponse:
        report = await reports.acoupon_report(coupon_id, **report_params(request))
        return json_response(report_json(report))


class CampaignReportView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="campaign_report",
        summary="Report a campaign's use",
        description=(
            "Redemptions, reverts and discounts given across a campaign's codes, in total and per "
            "day, week or month over a period."
        ),
        parameters=REPORT_PARAMETERS,
        responses={200: ReportOut, **problems(400, 404)},
    )
    async def get(self, request: Request, campaign_id: uuid.UUID) -> HttpResponse:
        report = await reports.acampaign_report(campaign_id, **report_params(request))
        return json_response(report_json(report))


class ExportParams(InputSerializer):
    coupon_id = StrictUUIDField(required=False)
    campaign_id = StrictUUIDField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs) != 1:
            raise serializers.ValidationError(
                {"coupon_id": ["Give coupon_id or campaign_id (one of them)."]}
            )
        return attrs


class RedemptionExportView(ApiView):
    required_scope = ApiKeyScope.MANAGE

    @extend_schema(
        operation_id="export_redemptions",
        summary="Export redemptions as CSV",
        description=(
            "Every redemption of a period, of one coupon or campaign if asked, as a CSV file."
        ),
        parameters=[
            OpenApiParameter("coupon_id", {"type": "string", "format": "uuid"}, required=False),
            OpenApiParameter("campaign_id", {"type": "string", "format": "uuid"}, required=False),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                response={"type": "string", "format": "binary"},
                description="A header line, then one line per redemption, oldest first: "
                + ",".join(exports.EXPORT_HEADER),
            ),
            **problems(400, 404),
        },
    )
    async def get(self, request: Request) -> StreamingHttpResponse:
        params = request.query_params
        repeated = sorted(name for name in params if len(params.getlist(name)) > 1)
        if repeated:
            raise ValidationFailed({name: ["Give it once."] for name in repeated})
        found = validated(ExportParams, dict(params.items()))
        lines = await exports.aredemption_csv(**found)
        response = StreamingHttpResponse(lines, content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="redemptions.csv"'
        return response
