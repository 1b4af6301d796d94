"""The staff's admin for the event log: read-only, newest first, by type, found by id."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin import EstimatedCountPaginator
from events.models import Event
from events.types import EVENT_TYPES


class EventTypeFilter(admin.SimpleListFilter):
    """The contract's types, not a DISTINCT over the whole log."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in EVENT_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        value = self.value()
        return queryset if value is None else queryset.filter(type=value)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "created_at")
    list_filter = (EventTypeFilter,)
    search_fields = ("id",)
    search_help_text = "An event's id."
    ordering = ("-created_at", "-id")
    fields = ("id", "type", "created_at", "data_json")
    readonly_fields = fields
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="data")
    def data_json(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.data, indent=2, sort_keys=True))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False  # not an id: no event has it

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events are written by the changes they report

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the log is what happened
