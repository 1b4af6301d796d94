"""The staff's admin for holds: per coupon and by status; releasing one goes through the
service (coupons.services.reservations), as the API's release does."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from coupons.models import Reservation
from coupons.services import reservations


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ("coupon_code", "status", "customer_id", "order_id", "order_amount",
                    "currency", "discount_amount", "expires_at", "created_at")  # fmt: skip
    list_select_related = ("coupon",)
    list_filter = ("status", "expires_at")
    search_fields = ("=customer_id", "=order_id")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = ("release",)

    @admin.display(description="code", ordering="coupon__code")
    def coupon_code(self, reservation: Reservation) -> str:
        return reservation.coupon.code

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # holds come from checkouts, through the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # what the counters say was held

    def has_release_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("coupons.change_coupon")

    @admin.action(description="Release selected holds (give the use back)",
                  permissions=["release"])  # fmt: skip
    def release(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> None:
        done = skipped = 0
        for reservation_id in queryset.values_list("pk", flat=True):
            try:
                reservations.release_reservation(reservation_id)
                done += 1
            except DomainError:
                skipped += 1
        self.message_user(
            request, f"Released {done}; {skipped} were confirmed, released or expired already."
        )
