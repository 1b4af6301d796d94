"""Routes under /v1/."""

import uuid

from django.urls import path, register_converter

from coupons.api import views


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
    path("coupons/<id:coupon_id>/", views.CouponDetailView.as_view(), name="coupon-detail"),
]
