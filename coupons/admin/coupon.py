"""The staff's admin of coupons and redemptions; writes go through the services' rules, as the
API's do."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from core.admin import EstimatedCountPaginator
from core.errors import DomainError, ValidationFailed
from coupons.admin.charts import (
    ReportDownloads,
    activity_html,
    last_days,
)
from coupons.admin.fields import WritableFieldsAdmin, csv_columns, form_field_names, form_values
from coupons.admin.forms import (
    DISCOUNT_COLUMNS,
    BatchForm,
    CouponChangeForm,
    codes_csv_response,
    csv_rows,
)
from coupons.admin.group import GroupedRedemption
from coupons.admin.imports import ImportForm, line_order
from coupons.admin.lists import RevertedFilter, RevertibleTrail, WindowFilter
from coupons.api.import_views import IMPORT_COLUMNS, MAX_IMPORT_ROWS, import_rows
from coupons.domain.codes import lookup_key
from coupons.domain.writable import COUPON_FIELDS
from coupons.models import Coupon, Redemption, Reservation
from coupons.services import batches, imports, redemptions, reports
from coupons.services import coupons as coupon_service

# Set when made, never edited: read-only on the change page.
CREATE_ONLY = form_field_names(Coupon, [f for f in COUPON_FIELDS if f.create_only])


@admin.register(Coupon)
class CouponAdmin(ReportDownloads, WritableFieldsAdmin):
    scope = "coupon"
    form = CouponChangeForm
    writable = COUPON_FIELDS
    list_display = ("code", "usage", "discount_shown", "is_active", "starts_at", "expires_at",
                    "created_at")  # fmt: skip
    search_fields = ("code__istartswith",)
    list_filter = ("is_active", WindowFilter, "campaign")
    date_hierarchy = "created_at"
    readonly_fields = ("id", "remaining_count", "held_count", "created_at", "updated_at",
                       "redemptions_link", "holds_link", "activity")  # fmt: skip
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ("activate", "deactivate", "export_csv")

    @admin.display(description="used / total")
    def usage(self, coupon: Coupon) -> str:
        used, total = coupon.used_count, coupon.init_count
        percent = 100 * used // total if total else 0
        return format_html(
            '{} / {} <progress value="{}" max="100" title="{}%" style="width:5em"></progress>',
            used, total, percent, percent,
        )  # fmt: skip

    @admin.display(description="discount")
    def discount_shown(self, coupon: Coupon) -> str:
        discount = coupon.discount
        if discount is None:
            return "-"
        if discount.amount_off is not None:
            text = f"{discount.amount_off} {discount.currency} off"
        else:
            text = f"{discount.percent_off:f}".rstrip("0").rstrip(".") + " % off"
            if discount.max_amount_off is not None:
                text += f", at most {discount.max_amount_off} {discount.currency}"
            elif discount.currency is not None:
                text += f" ({discount.currency} orders)"
        if discount.min_order_amount is not None:
            text += f", orders from {discount.min_order_amount} {discount.currency}"
        return text

    @admin.display(description="redemptions")
    def redemptions_link(self, coupon: Coupon) -> str:
        if not coupon.pk:
            return "-"
        url = reverse("admin:coupons_redemption_changelist") + f"?coupon__id__exact={coupon.pk}"
        return format_html('<a href="{}">{} used: see them, newest first</a>', url,
                           coupon.used_count)  # fmt: skip

    @admin.display(description="holds")
    def holds_link(self, coupon: Coupon) -> str:
        if not coupon.pk:
            return "-"
        url = reverse("admin:coupons_reservation_changelist") + f"?coupon__id__exact={coupon.pk}"
        return format_html('<a href="{}">{} held now: see all holds and their status</a>',
                           url, coupon.held_count)  # fmt: skip

    @admin.display(description="last 30 days")
    def activity(self, coupon: Coupon) -> str:
        if not coupon.pk:
            return "-"
        start, end = last_days()
        return activity_html(
            reports.coupon_report(coupon.pk, start=start, end=end),
            series_csv_url=reverse("admin:coupons_coupon_report_csv", args=[coupon.pk]),
            redemptions_csv_url=reverse("admin:coupons_coupon_redemptions_csv", args=[coupon.pk]),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Coupon | None = None) -> Any:
        if obj is None:
            return ("id", "remaining_count", "created_at", "updated_at")
        # A code is printed on flyers and typed by shoppers: it never changes. Nor does the
        # discount once redeemed (the service says so too, should a redemption come
        # between this page and its save).
        # A code of a campaign takes the campaign's discount: none of its own to edit.
        if obj.campaign_id is not None or Redemption.objects.filter(coupon_id=obj.pk).exists():
            return (*self.readonly_fields, *CREATE_ONLY, *DISCOUNT_COLUMNS)
        return (*self.readonly_fields, *CREATE_ONLY)

    def save_model(self, request: HttpRequest, obj: Coupon, form: Any, change: bool) -> None:
        if change:
            # The form's validation made the edit (CouponChangeForm.full_clean): only the
            # fields it changed, through the coupon service's conditional UPDATE, as saving the
            # whole row would write back the remaining_count read when the form was opened
            # and lose every redemption made since. Here only its result is copied.
            saved = form.saved
        else:
            saved = coupon_service.create_coupon(
                **form_values(Coupon, COUPON_FIELDS, form.cleaned_data)
            )
        for field in Coupon._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    @admin.action(description="Activate selected coupons", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        done = coupon_service.set_coupons_active(
            list(queryset.values_list("pk", flat=True)), active=True
        )
        self.message_user(request, f"Activated {done} coupon(s).")

    @admin.action(description="Deactivate selected coupons", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = coupon_service.set_coupons_active(ids, active=False)
        self.message_user(request, f"Deactivated {done} coupon(s).")

    @admin.action(description="Export selected coupons as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> StreamingHttpResponse:
        header, cells = csv_columns(
            COUPON_FIELDS, read_only={"remaining_count": int, "created_at": datetime.isoformat}
        )
        rows = (
            [cell(value) for cell, value in zip(cells, values, strict=True)]
            for values in queryset.order_by().values_list(*header).iterator(chunk_size=2000)
        )
        response = StreamingHttpResponse(csv_rows(header, rows), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="coupons.csv"'
        return response

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Holds that ended go with a never-redeemed coupon and a live one is the service's
        # to refuse (coupons.services.hold_cleanup): only redemptions protect it here.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not Redemption.objects.filter(coupon__in=list(objs)).exists():
            protected = []
        # Holds have no delete of their own in the admin; the service deletes ended ones.
        perms_needed = set(perms_needed) - {str(Reservation._meta.verbose_name)}
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Coupon) -> None:
        self.delete_queryset(request, Coupon.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        # Each through the service, as the API's DELETE: refused while a hold is live, and
        # each deletion writes its coupon.deleted event.
        for coupon in queryset:
            try:
                coupon_service.delete_coupon(coupon.pk)
            except DomainError as exc:
                self.message_user(request, f"{coupon}: {exc.detail}", messages.ERROR)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("generate/", view(self.generate_view), name="coupons_coupon_generate"),
            path("import/", view(self.import_view), name="coupons_coupon_import"),
            *self.report_urls(),
            *super().get_urls(),
        ]  # fmt: skip

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        errors: dict[str, list[str]] = {}
        if request.method == "POST" and form.is_valid():
            campaign = form.cleaned_data["campaign"]
            upload = form.cleaned_data["file"]
            try:
                with io.TextIOWrapper(upload, encoding="utf-8-sig", newline="") as lines:
                    created = imports.import_coupons(
                        import_rows(lines, max_rows=MAX_IMPORT_ROWS),
                        campaign_id=campaign.pk if campaign else None,
                    )
            except UnicodeDecodeError:
                messages.error(request, "Nothing imported: the file is not UTF-8 text.")
            except ValidationFailed as exc:
                messages.error(request, exc.detail)
                errors = exc.errors
            else:
                messages.success(request, f"Imported {created} coupon(s).")
                return HttpResponseRedirect(reverse("admin:coupons_coupon_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import codes from a CSV file",
            "form": form,
            "row_errors": sorted(errors.items(), key=lambda item: line_order(item[0])),
            "columns": ", ".join(IMPORT_COLUMNS),
            "max_rows": MAX_IMPORT_ROWS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/coupons/import.html", context)

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                codes = batches.create_coupon_batch(
                    count=data["count"], prefix=data["prefix"] or "", length=data["length"],
                    **form_values(Coupon, form.writable, data),
                )  # fmt: skip
            except DomainError as exc:
                messages.error(request, f"Nothing created: {exc.detail}")
            else:
                return codes_csv_response(codes)
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate a batch of coupons",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/coupons/generate.html", context)


@admin.register(Redemption)
class RedemptionAdmin(GroupedRedemption, RevertibleTrail):
    list_display = ("coupon_code", "customer_id", "order_id", "order_amount", "currency",
                    "discount_amount", "remaining_after", "redeemed_at", "reverted_at")  # fmt: skip
    list_select_related = ("coupon",)
    list_filter = (RevertedFilter, "redeemed_at")
    search_fields = ("coupon__code", "customer_id", "order_id")  # see get_search_results
    ordering = ("-redeemed_at", "-id")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ("revert", "export_csv")

    @admin.action(description="Export selected redemptions as CSV", permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Redemption]
    ) -> StreamingHttpResponse:
        header = ["id", "code", "customer_id", "order_id", "order_amount", "currency",
                  "discount_amount", "redeemed_at", "reverted_at", "metadata"]  # fmt: skip
        rows = (
            [str(i), c, cu, o, oa, cur, d, ra.isoformat(), rv and rv.isoformat(), json.dumps(m)]
            for i, c, cu, o, oa, cur, d, ra, rv, m in queryset.order_by()
            .values_list("id", "coupon__code", *header[2:])
            .iterator(chunk_size=2000)
        )  # fmt: skip
        response = StreamingHttpResponse(csv_rows(header, rows), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="redemptions.csv"'
        return response

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Redemption], search_term: str
    ) -> tuple[QuerySet[Redemption], bool]:
        """A customer id, an order id, or a code's start: each served by its own index and
        united, where Django's OR across a join scanned a million rows (1.8 s a page)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        key = lookup_key(term)
        codes = Coupon.objects.filter(code__upper__startswith=key) if key else Coupon.objects.none()
        coupons = codes.values("pk")
        matching = (
            Redemption.objects.filter(customer_id=term).values("pk")
            .union(Redemption.objects.filter(order_id=term).values("pk"))
            .union(Redemption.objects.filter(coupon_id__in=coupons).values("pk"))
        )  # fmt: skip
        return queryset.filter(pk__in=matching), False

    readonly_fields = ("lines_allocated", "group_link", "siblings")

    @admin.display(description="code", ordering="coupon__code")
    def coupon_code(self, redemption: Redemption) -> str:
        return redemption.coupon.code

    @admin.display(description="lines and their discount")
    def lines_allocated(self, redemption: Redemption) -> str:
        """The order's lines beside where the discount went, a row per line."""
        if not redemption.order_lines:
            return "-"
        shares = {a["line_id"]: a for a in redemption.allocations or []}

        def row(line: dict[str, Any]) -> tuple[Any, ...]:
            share = shares.get(line["id"], {})
            units = ", ".join(
                f"{u['quantity']} x {u['amount_each']}" for u in share.get("units", [])
            )
            return (line["id"], line["product_id"] or "-", line["quantity"],
                    line["unit_amount"], share.get("amount", "-"), units or "-")  # fmt: skip

        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (row(line) for line in redemption.order_lines),
        )
        return format_html(
            "<table><tr><th>line</th><th>product</th><th>quantity</th><th>unit amount</th>"
            "<th>discount</th><th>per unit</th></tr>{}</table>",
            rows,
        )

    @admin.action(description="Revert selected redemptions (give the use back)",
                  permissions=["revert"])  # fmt: skip
    def revert(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        self.revert_each(request, queryset, redemptions.revert_redemption)
