"""The staff's admin for webhooks: endpoints (created and edited through the service, so
the SSRF guard and the event types are checked as on the API), their delivery log with
response codes, "send a test event" and re-enabling a disabled endpoint."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.admin import EditThroughServiceForm
from core.errors import DomainError
from events.types import EVENT_TYPES
from webhooks.models import WebhookAttempt, WebhookEndpoint
from webhooks.services import endpoints as webhooks
from webhooks.services.fanout import queue_test_delivery

EDITABLE = ("url", "events", "description", "is_active")


class EventsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            choices=[("*", "* (every type)"), *((name, name) for name in EVENT_TYPES)],
            help_text='"*" alone, or the types wanted.',
            **kwargs,
        )

    def validate(self, value: Any) -> None:
        super().validate(value)
        if "*" in value and len(value) > 1:
            raise forms.ValidationError('"*" stands alone: it means every type.')


class WebhookEndpointForm(EditThroughServiceForm):
    events = EventsField()

    class Meta:
        model = WebhookEndpoint
        fields = EDITABLE

    def _url_problem(self) -> None:
        try:
            webhooks.check_webhook_url(self.cleaned_data["url"])
        except DomainError as exc:
            for message in exc.data.get("errors", {}).get("url", [exc.detail]):
                self.add_error("url", message)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "url" in cleaned and (self.instance._state.adding or "url" in self.changed_data):
            self._url_problem()
        return cleaned

    def service_edit(self) -> Any:
        changes = {f: self.cleaned_data[f] for f in self.changed_data if f in EDITABLE}
        return webhooks.update_endpoint(self.instance.pk, changes=changes)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "event_types", "is_active", "disabled_reason", "log_link",
                    "created_at")  # fmt: skip
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = ("id", "disabled_reason", "failing_since", "log_link", "created_at")
    ordering = ("-created_at", "-id")
    actions = ("send_test_event", "enable", "disable")

    @admin.display(description="events")
    def event_types(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    @admin.display(description="deliveries")
    def log_link(self, endpoint: WebhookEndpoint) -> str:
        if not endpoint.pk:
            return "-"
        url = reverse("admin:webhooks_webhookattempt_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">delivery log</a>', url, endpoint.pk)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("id", "created_at") if obj is None else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if change:
            return  # the form's validation made the edit (EditThroughServiceForm)
        data = form.cleaned_data
        created = webhooks.create_endpoint(**{name: data[name] for name in EDITABLE})
        obj.pk, obj.created_at, obj.secret = created.pk, created.created_at, created.secret
        obj._state.adding = False
        # Shown once, as the API's 201 does: only the signature's check needs it after.
        self.message_user(
            request, f"The signing secret (shown only now): {created.secret}", messages.WARNING
        )

    @admin.action(description="Send a test event (webhook.test) to the selected endpoints",
                  permissions=["change"])  # fmt: skip
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        inactive = 0
        for endpoint in queryset:
            queue_test_delivery(endpoint.pk)
            inactive += not endpoint.is_active
        note = f" ({inactive} inactive: sent once re-enabled)" if inactive else ""
        self.message_user(
            request,
            f"Queued a webhook.test delivery to {queryset.count()} endpoint(s){note}; the "
            "worker sends it within seconds (see the delivery log).",
        )

    @admin.action(description="Enable the selected endpoints (clears why they were disabled)",
                  permissions=["change"])  # fmt: skip
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        done = webhooks.set_endpoints_active(
            list(queryset.values_list("pk", flat=True)), active=True
        )
        self.message_user(request, f"Enabled {done} endpoint(s).")

    @admin.action(description="Disable the selected endpoints", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        done = webhooks.set_endpoints_active(
            list(queryset.values_list("pk", flat=True)), active=False
        )
        self.message_user(request, f"Disabled {done} endpoint(s).")


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    """The delivery log: one row per attempt (and per attempt scheduled), newest first."""

    list_display = ("created_at", "endpoint", "event_type", "event_id", "attempt", "status",
                    "response_status", "duration_ms", "error", "attempted_at",
                    "next_attempt_at")  # fmt: skip
    list_select_related = ("endpoint", "delivery__event")
    list_filter = ("status", "endpoint")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    @admin.display(description="event type")
    def event_type(self, attempt: WebhookAttempt) -> str:
        return attempt.delivery.event_type

    @admin.display(description="event id")
    def event_id(self, attempt: WebhookAttempt) -> str:
        return str(attempt.delivery.event_key)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # what was sent, and what the receiver answered
