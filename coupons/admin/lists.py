"""What the admin's lists need: an estimated count for big tables, and filters."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from coupons.models import Coupon, Redemption


class WindowFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("exhausted", "exhausted"),
            ("expired", "expired"),
            ("not_started", "not yet started"),
            ("redeemable", "redeemable now"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> QuerySet[Coupon]:
        now = timezone.now()
        match self.value():
            case "exhausted":
                return queryset.filter(remaining_count=0)
            case "expired":
                return queryset.filter(expires_at__lte=now)
            case "not_started":
                return queryset.filter(starts_at__gt=now)
            case "redeemable":
                return queryset.redeemable(now)  # type: ignore[attr-defined]
        return queryset


class RevertedFilter(admin.SimpleListFilter):
    title = "reverted"
    parameter_name = "reverted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "live"), ("yes", "reverted")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Redemption]
    ) -> QuerySet[Redemption]:
        if self.value() == "yes":
            return queryset.filter(reverted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(reverted_at__isnull=True)
        return queryset
