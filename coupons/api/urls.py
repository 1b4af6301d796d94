"""The ledger's routes under /v1/: coupons, redemptions, validations, holds, groups of codes,
campaigns."""

from django.urls import path

from core.api import urls as _core_urls  # noqa: F401 - registers the `id` converter
from coupons.api import (
    campaign_views,
    group_views,
    import_views,
    report_views,
    reservation_views,
    views,
)

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
        "redemption-groups/",
        group_views.RedemptionGroupCollectionView.as_view(),
        name="redemption-group-collection",
    ),
    path(
        "redemption-groups/<id:group_id>/",
        group_views.RedemptionGroupDetailView.as_view(),
        name="redemption-group-detail",
    ),
    path(
        "redemption-groups/<id:group_id>/revert/",
        group_views.RedemptionGroupRevertView.as_view(),
        name="redemption-group-revert",
    ),
    path(
        "reservation-groups/",
        group_views.ReservationGroupCollectionView.as_view(),
        name="reservation-group-collection",
    ),
    path(
        "reservation-groups/<id:group_id>/",
        group_views.ReservationGroupDetailView.as_view(),
        name="reservation-group-detail",
    ),
    path(
        "reservation-groups/<id:group_id>/confirm/",
        group_views.ReservationGroupConfirmView.as_view(),
        name="reservation-group-confirm",
    ),
    path(
        "reservation-groups/<id:group_id>/release/",
        group_views.ReservationGroupReleaseView.as_view(),
        name="reservation-group-release",
    ),
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
]
