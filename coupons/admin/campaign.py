"""The staff's admin for campaigns: counters and a spend bar, their codes, a page that
generates codes for one, and on/off actions; every write goes through
coupons.services.campaigns and coupons.services.batches, as the API's do."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from core.admin import EditThroughServiceForm
from core.errors import DomainError
from coupons.admin.charts import (
    ReportDownloads,
    activity_html,
    last_days,
)
from coupons.admin.fields import WritableFieldsAdmin, edit_changes, form_field_names, form_values
from coupons.admin.forms import CampaignCodesForm, codes_csv_response, discount_errors
from coupons.domain.writable import CAMPAIGN_FIELDS, editable
from coupons.models import Coupon, Redemption
from coupons.models.campaign import Campaign
from coupons.services import batches, reports
from coupons.services import campaigns as campaign_service


class CampaignForm(EditThroughServiceForm):
    class Meta:
        model = Campaign
        fields = form_field_names(Campaign, CAMPAIGN_FIELDS)
        help_texts = {
            "budget_amount": "At most this much discount in total, in the discount's "
            "currency's minor unit (cents for EUR); empty: no budget.",
            "budget_currency": "The discount's currency.",
            "max_redemptions": "Live redemptions across all its codes; empty: no limit.",
            "per_customer_limit": "A customer's live redemptions across all its codes.",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for column in ("discount_currency", "budget_currency"):
            if column in cleaned:
                cleaned[column] = cleaned[column] or None
        for field, errors in discount_errors(cleaned).items():
            for error in errors:
                self.add_error(field, error)
        budget_currency = cleaned.get("budget_currency")
        if cleaned.get("budget_amount") is not None and budget_currency != cleaned.get(
            "discount_currency"
        ):
            self.add_error("budget_currency", "Must be the discount's currency.")
        return cleaned

    def service_edit(self) -> Any:
        # Refusals (budget_below_spent, count_below_used, discount_locked) show on the form.
        changes = edit_changes(self, editable(CAMPAIGN_FIELDS))
        return campaign_service.update_campaign(self.instance.pk, changes=changes)


@admin.register(Campaign)
class CampaignAdmin(ReportDownloads, WritableFieldsAdmin):
    scope = "campaign"
    form = CampaignForm
    writable = CAMPAIGN_FIELDS
    list_display = ("name", "is_active", "redemptions", "spend", "codes_link", "starts_at",
                    "expires_at", "created_at")  # fmt: skip
    list_filter = ("is_active",)
    search_fields = ("name",)
    readonly_fields = ("id", "redemption_count", "held_count", "discount_total", "spend",
                       "codes_link", "generate_link", "created_at", "updated_at",
                       "activity")  # fmt: skip
    ordering = ("-created_at", "-id")
    actions = ("activate", "deactivate")

    @admin.display(description="redemptions")
    def redemptions(self, campaign: Campaign) -> str:
        if campaign.max_redemptions is None:
            return str(campaign.redemption_count)
        return f"{campaign.redemption_count} / {campaign.max_redemptions}"

    @admin.display(description="spent / budget")
    def spend(self, campaign: Campaign) -> str:
        if campaign.budget_amount is None:
            return f"{campaign.discount_total} (no budget)"
        budget = campaign.budget_amount
        percent = 100 * campaign.discount_total // budget if budget else 100
        return format_html(
            '{} / {} {} <progress class="spend" value="{}" max="100" title="{}%" '
            'style="width:6em"></progress>',
            campaign.discount_total, budget, campaign.budget_currency, percent, percent,
        )  # fmt: skip

    @admin.display(description="codes")
    def codes_link(self, campaign: Campaign) -> str:
        if not campaign.pk:
            return "-"
        url = reverse("admin:coupons_coupon_changelist") + f"?campaign__id__exact={campaign.pk}"
        return format_html('<a href="{}">its codes</a>', url)

    @admin.display(description="generate")
    def generate_link(self, campaign: Campaign) -> str:
        if not campaign.pk:
            return "-"
        url = reverse("admin:coupons_campaign_generate", args=[campaign.pk])
        return format_html('<a href="{}">Generate codes for this campaign</a>', url)

    @admin.display(description="last 30 days")
    def activity(self, campaign: Campaign) -> str:
        if not campaign.pk:
            return "-"
        start, end = last_days()
        budget = None
        if campaign.budget_amount is not None:
            currency = campaign.budget_currency or ""
            budget = (campaign.budget_amount, campaign.discount_total, currency)
        return activity_html(
            reports.campaign_report(campaign.pk, start=start, end=end),
            series_csv_url=reverse("admin:coupons_campaign_report_csv", args=[campaign.pk]),
            redemptions_csv_url=reverse(
                "admin:coupons_campaign_redemptions_csv", args=[campaign.pk]
            ),
            budget=budget,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        if obj is None:
            return ("id", "created_at", "updated_at")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if change:
            # The form's validation made the edit (CampaignForm.full_clean); saving the row
            # would write back the counters read when the form was opened.
            for name in ("redemption_count", "discount_total", "updated_at"):
                setattr(obj, name, getattr(form.saved, name))
            return
        created = campaign_service.create_campaign(
            **form_values(Campaign, CAMPAIGN_FIELDS, form.cleaned_data)
        )
        obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at
        obj._state.adding = False

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # A campaign whose codes were redeemed keeps its history (has_redemptions).
        if obj is not None and Redemption.objects.filter(coupon__campaign_id=obj.pk).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Its codes' PROTECT is the service's to handle (it deletes them first), not a
        # reason for the confirmation page to refuse.
        deleted, counts, perms_needed, _protected = super().get_deleted_objects(objs, request)
        codes = Coupon.objects.filter(campaign__in=list(objs)).count()
        return [*deleted, f"and its {codes} code(s)"], counts, perms_needed, []

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        self.delete_queryset(request, Campaign.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        # Each through the service: its codes first, refused if one was redeemed meanwhile.
        for campaign in queryset:
            try:
                campaign_service.delete_campaign(campaign.pk)
            except DomainError as exc:
                self.message_user(request, f"{campaign}: {exc.detail}", messages.ERROR)

    @admin.action(description="Activate selected campaigns", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = campaign_service.set_campaigns_active(ids, active=True)
        self.message_user(request, f"Activated {done} campaign(s).")

    @admin.action(description="Deactivate selected campaigns", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = campaign_service.set_campaigns_active(ids, active=False)
        self.message_user(request, f"Deactivated {done} campaign(s): all their codes stop.")

    def get_urls(self) -> list[URLPattern]:
        generate = path(
            "<uuid:campaign_id>/generate/",
            self.admin_site.admin_view(self.generate_view),
            name="coupons_campaign_generate",
        )
        return [
            generate,
            *self.report_urls(),
            *super().get_urls(),
        ]  # fmt: skip

    def generate_view(self, request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        form = CampaignCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                codes = batches.create_coupon_batch(
                    count=data["count"], prefix=data["prefix"] or "", length=data["length"],
                    campaign_id=campaign.pk, **form_values(Coupon, form.writable, data),
                )  # fmt: skip
            except DomainError as exc:
                messages.error(request, f"Nothing created: {exc.detail}")
            else:
                return codes_csv_response(codes)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Generate codes for {campaign.name}",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/coupons/generate.html", context)
