"""The staff's admin; writes go through the repository's rules, as the API's do."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from coupons import repository
from coupons.models import ApiKey, Coupon


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ("code", "usage", "is_active", "starts_at", "expires_at", "created_at")
    search_fields = ("code__istartswith",)
    list_filter = ("is_active",)
    readonly_fields = ("id", "remaining_count", "created_at", "updated_at")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    @admin.display(description="used / total")
    def usage(self, coupon: Coupon) -> str:
        return f"{coupon.used_count} / {coupon.init_count}"

    def get_readonly_fields(self, request: HttpRequest, obj: Coupon | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # A code is printed on flyers and typed by shoppers: it never changes.
        return (*self.readonly_fields, "code")

    def save_model(self, request: HttpRequest, obj: Coupon, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = repository.create_coupon(
            code=obj.code,
            init_count=obj.init_count,
            is_active=obj.is_active,
            starts_at=obj.starts_at,
            expires_at=obj.expires_at,
            per_customer_limit=obj.per_customer_limit,
        )
        obj.pk = created.pk
        obj.remaining_count = created.remaining_count
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        obj._state.adding = False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("name", "prefix")
    fields = ("name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "name", "scope")

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ModelForm, change: bool) -> None:
        if change:
            return
        created, plain_key = repository.create_api_key(name=obj.name, scope=obj.scope)
        obj.pk = created.pk
        obj._state.adding = False
        messages.warning(
            request,
            f"The new key is {plain_key} — copy it now; it is stored only as a hash "
            "and cannot be shown again.",
        )

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the row is the audit trail of who had access

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            repository.revoke_api_key(key_id)
        self.message_user(request, "Revoked. Running servers refuse the keys within seconds.")
