"""What the admin's lists need: filters, and the read-only trail with its revert action."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from core.errors import DomainError
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


class RevertibleTrail(admin.ModelAdmin):
    """The admin of an audit trail (redemptions, redemption groups): nothing added, changed
    or deleted here; staff who may change coupons revert, through the API's service."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by checkouts, through the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit trail

    def has_revert_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("coupons.change_coupon")

    def revert_each(
        self, request: HttpRequest, queryset: QuerySet[Any], revert: Callable[[uuid.UUID], Any]
    ) -> None:
        """The list action: `revert` each selected row; those with nothing live are counted."""
        done = skipped = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                revert(pk)
                done += 1
            except DomainError:
                skipped += 1
        self.message_user(request, f"Reverted {done}; {skipped} had nothing live.")
