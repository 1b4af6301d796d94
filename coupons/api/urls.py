"""Routes under /v1/."""

import uuid
from typing import Any

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from coupons.api import (
    campaign_views,
    event_views,
    import_views,
    report_views,
    reservation_views,
    views,
    webhook_views,
)
from coupons.api.http import options_response


class JsonOptions:
    """OPTIONS as on the API's own views (DRF's would render the docs page's template)."""

    allowed_methods: list[str]

    # Typed loosely: DRF's stubs say Response, Django's View says HttpResponse.
    def options(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return options_response(self.allowed_methods)


class SchemaView(JsonOptions, SpectacularJSONAPIView):
    """The OpenAPI 3 document, as JSON, for everyone (it holds no secrets)."""

    content_negotiation_class = DefaultContentNegotiation

    def _get_version_parameter(self, request: Any) -> None:
        # One API version, and drf-spectacular copies `?version=` into the Content-Disposition
        # filename (a CR LF was a 500, a NUL cut the connection): the parameter is ignored.
        return None


class DocsView(JsonOptions, SpectacularSwaggerView):
    """Swagger UI, its files served by this server."""


class AnyCaseUUIDConverter:
    """A UUID in any letter case; anything else does not match, so it is a 404."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: uuid.UUID) -> str:
        return str(value)


register_converter(AnyCaseUUIDConverter, "id")

urlpatterns = [
    path("coupons/", views.CouponCollectionView.as_view(), name="coupon-collection"),
    path("coupons/batch/", views.CouponBatchView.as_view(), name="coupon-batch"),
    path("coupons/import/", import_views.CouponImportView.as_view(), name="coupon-import"),
    path("coupons/<id:coupon_id>/", views.CouponDetailView.as_view(), name="coupon-detail"),
    path(
        "coupons/<id:coupon_id>/report/",
        report_views.CouponReportView.as_view(),
        name="coupon-report",
    ),
    path(
        "coupons/<id:coupon_id>/redemptions/",
        views.CouponRedemptionsView.as_view(),
        name="coupon-redemptions",
    ),
    path("redemptions/", views.RedemptionCollectionView.as_view(), name="redemption-collection"),
    path(
        "redemptions/export/",
        report_views.RedemptionExportView.as_view(),
        name="redemption-export",
    ),
    path(
        "redemptions/<id:redemption_id>/",
        views.RedemptionDetailView.as_view(),
        name="redemption-detail",
    ),
    path(
        "redemptions/<id:redemption_id>/revert/",
        views.RedemptionRevertView.as_view(),
        name="redemption-revert",
    ),
    path("validations/", views.ValidationView.as_view(), name="validations"),
    path(
        "reservations/",
        reservation_views.ReservationCollectionView.as_view(),
        name="reservation-collection",
    ),
    path(
        "reservations/<id:reservation_id>/",
        reservation_views.ReservationDetailView.as_view(),
        name="reservation-detail",
    ),
    path(
        "reservations/<id:reservation_id>/confirm/",
        reservation_views.ReservationConfirmView.as_view(),
        name="reservation-confirm",
    ),
    path(
        "reservations/<id:reservation_id>/release/",
        reservation_views.ReservationReleaseView.as_view(),
        name="reservation-release",
    ),
    path("campaigns/", campaign_views.CampaignCollectionView.as_view(), name="campaign-collection"),
    path(
        "campaigns/<id:campaign_id>/",
        campaign_views.CampaignDetailView.as_view(),
        name="campaign-detail",
    ),
    path(
        "campaigns/<id:campaign_id>/report/",
        report_views.CampaignReportView.as_view(),
        name="campaign-report",
    ),
    path("events/", event_views.EventCollectionView.as_view(), name="event-collection"),
    path("events/<id:event_id>/", event_views.EventDetailView.as_view(), name="event-detail"),
    path(
        "webhook-endpoints/",
        webhook_views.WebhookEndpointCollectionView.as_view(),
        name="webhook-endpoint-collection",
    ),
    path(
        "webhook-endpoints/<id:endpoint_id>/",
        webhook_views.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<id:endpoint_id>/deliveries/",
        webhook_views.WebhookDeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    # Last: the routes are tried in order, and these two are not on the hot paths.
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="schema"), name="docs"),
]
