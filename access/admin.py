"""The staff's admin of API keys: create (the key shown once), revoke, never delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.models import ApiKey
from access.services import api_keys


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

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return
        created, plain_key = api_keys.create_api_key(name=obj.name, scope=obj.scope)
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
            api_keys.revoke_api_key(key_id)
        self.message_user(request, "Revoked. Running servers refuse the keys within seconds.")
