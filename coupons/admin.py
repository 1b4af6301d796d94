"""The staff's admin; writes go through the services' rules, as the API's do."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from coupons.domain.discounts import (
    DISCOUNT_FIELDS,
    Discount,
    discount_from_columns,
    discount_problems,
    percent_json,
)
from coupons.domain.limits import (
    EDITABLE_FIELDS,
    MAX_BATCH,
    MAX_CODE_LENGTH,
    MAX_INIT_COUNT,
    MAX_PREFIX_LENGTH,
    MAX_RANDOM_LENGTH,
    MIN_RANDOM_LENGTH,
    PREFIX_PATTERN,
)
from coupons.domain.money import MAX_AMOUNT
from coupons.errors import DomainError
from coupons.models import ApiKey, Coupon, Redemption
from coupons.services import api_keys, batches, redemptions
from coupons.services import coupons as coupon_service

EDITABLE = EDITABLE_FIELDS
# The discount as the coupon's columns, edited in the form like the API's `discount`:
# replaced whole, and only while the coupon was never redeemed.
DISCOUNT_COLUMNS = tuple(f"discount_{name}" for name in DISCOUNT_FIELDS)


def discount_errors(values: dict[str, Any]) -> dict[str, list[str]]:
    """The domain's rules for the five values (None where empty), keyed by form field."""
    if all(values.get(f"discount_{name}") is None for name in DISCOUNT_FIELDS):
        return {}
    problems = discount_problems(
        **{name: values.get(f"discount_{name}") for name in DISCOUNT_FIELDS}
    )
    return {f"discount_{name}": messages for name, messages in problems.items()}


def discount_of(values: dict[str, Any]) -> Discount | None:
    """The discount the form's five values say (None when all are empty)."""
    return discount_from_columns({column: values.get(column) for column in DISCOUNT_COLUMNS})


class EstimatedCountPaginator(Paginator):
    """Pages of a big table without COUNT(*) over all of it: unfiltered, PostgreSQL's
    estimate from pg_class is used (a million-row COUNT takes a noticeable fraction of a
    second on every page); filtered lists count exactly."""

    @property
    def count(self) -> int:
        queryset = self.object_list
        if (
            isinstance(queryset, QuerySet)
            and connection.vendor == "postgresql"
            and not queryset.query.where
        ):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > 10_000:
                return int(row[0])
        return super().count


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


class CouponChangeForm(forms.ModelForm):
    class Meta:
        model = Coupon
        fields = ("code", "init_count", *(f for f in EDITABLE if f != "init_count"),
                  *DISCOUNT_COLUMNS)  # fmt: skip
        help_texts = {
            "discount_percent_off": "e.g. 12.5; or give amount off instead (not both).",
            "discount_currency": "ISO 4217, e.g. EUR: needed with an amount off, a maximum "
            "or a minimum order.",
            "discount_max_amount_off": "In the currency's minor unit (cents for EUR).",
            "discount_min_order_amount": "In the currency's minor unit (cents for EUR).",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if any(column in self.fields for column in DISCOUNT_COLUMNS):
            for field, errors in discount_errors(cleaned).items():
                for error in errors:
                    self.add_error(field, error)
        new_count = cleaned.get("init_count")
        if not self.instance._state.adding and new_count is not None:
            used = self.instance.init_count - self.instance.remaining_count
            if new_count < used:
                self.add_error(
                    "init_count", f"{used} uses are already spent: it cannot go below that."
                )
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.instance._state.adding or self.errors:
            return
        # An edit is the coupon service's conditional UPDATE, and whether it is refused (a
        # redemption committed after the check above, a window it would break) is known
        # only by trying it. Django's change view goes back to the form only for a
        # validation error, so the edit is this form's last validation step: a refusal is
        # shown on the form, and the change is neither logged nor called a success. The
        # UPDATE and the admin's LogEntry share the transaction changeform_view opens.
        changes = {f: self.cleaned_data[f] for f in self.changed_data if f in EDITABLE}
        if set(self.changed_data) & set(DISCOUNT_COLUMNS):
            changes["discount"] = discount_of(self.cleaned_data)
        try:
            self.saved = coupon_service.update_coupon(self.instance.pk, changes=changes)
        except DomainError as exc:
            reasons = [m for field in exc.data.get("errors", {}).values() for m in field]
            self.add_error(None, f"Not saved: {' '.join(reasons) or exc.detail}")


class BatchForm(forms.Form):
    """The API's batch bounds (`CouponBatchInput`), as a form."""

    count = forms.IntegerField(min_value=1, max_value=MAX_BATCH)
    prefix = forms.RegexField(  # type: ignore[assignment]
        regex=PREFIX_PATTERN, required=False, max_length=MAX_PREFIX_LENGTH
    )
    length = forms.IntegerField(min_value=MIN_RANDOM_LENGTH, max_value=MAX_RANDOM_LENGTH, initial=8)
    init_count = forms.IntegerField(
        min_value=1, max_value=MAX_INIT_COUNT, initial=1, label="uses per code"
    )
    starts_at = forms.DateTimeField(required=False)
    expires_at = forms.DateTimeField(required=False)
    discount_percent_off = forms.DecimalField(
        required=False, max_digits=5, decimal_places=2, label="percent off"
    )
    discount_amount_off = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_AMOUNT, label="amount off (minor units)"
    )
    discount_currency = forms.CharField(required=False, max_length=3, label="currency")
    discount_max_amount_off = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_AMOUNT, label="at most (minor units)"
    )
    discount_min_order_amount = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_AMOUNT, label="minimum order (minor units)"
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["discount_currency"] = cleaned.get("discount_currency") or None
        for field, errors in discount_errors(cleaned).items():
            for error in errors:
                self.add_error(field, error)
        if len(cleaned.get("prefix") or "") + (cleaned.get("length") or 0) > MAX_CODE_LENGTH:
            self.add_error(
                "length", f"prefix + length must be at most {MAX_CODE_LENGTH} characters."
            )
        starts, expires = cleaned.get("starts_at"), cleaned.get("expires_at")
        if starts and expires and starts >= expires:
            self.add_error("expires_at", "Must be after the start.")
        return cleaned


def _csv_rows(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponChangeForm
    list_display = ("code", "usage", "discount_shown", "is_active", "starts_at", "expires_at",
                    "created_at")  # fmt: skip
    search_fields = ("code__istartswith",)
    list_filter = ("is_active", WindowFilter, "campaign")
    date_hierarchy = "created_at"
    readonly_fields = ("id", "remaining_count", "metadata", "created_at", "updated_at",
                       "redemptions_link")  # fmt: skip
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

    def get_readonly_fields(self, request: HttpRequest, obj: Coupon | None = None) -> Any:
        if obj is None:
            return ("id", "remaining_count", "metadata", "created_at", "updated_at")
        # A code is printed on flyers and typed by shoppers: it never changes. Nor does the
        # discount once redeemed (the service says so too, should a redemption come
        # between this page and its save).
        # A code of a campaign takes the campaign's discount: none of its own to edit.
        if obj.campaign_id is not None or Redemption.objects.filter(coupon_id=obj.pk).exists():
            return (*self.readonly_fields, "code", *DISCOUNT_COLUMNS)
        return (*self.readonly_fields, "code")

    def save_model(self, request: HttpRequest, obj: Coupon, form: Any, change: bool) -> None:
        if change:
            # The form's validation made the edit (CouponChangeForm.full_clean): only the
            # fields it changed, through the coupon service's conditional UPDATE, as saving the
            # whole row would write back the remaining_count read when the form was opened
            # and lose every redemption made since. Here only its result is copied.
            obj.remaining_count, obj.updated_at = form.saved.remaining_count, form.saved.updated_at
            for column in DISCOUNT_COLUMNS:
                setattr(obj, column, getattr(form.saved, column))
            return
        created = coupon_service.create_coupon(
            code=obj.code,
            init_count=obj.init_count,
            is_active=obj.is_active,
            starts_at=obj.starts_at,
            expires_at=obj.expires_at,
            per_customer_limit=obj.per_customer_limit,
            discount=discount_of(form.cleaned_data),
        )
        obj.pk = created.pk
        obj.remaining_count = created.remaining_count
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
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
        header = ["code", "init_count", "remaining_count", "is_active", "starts_at",
                  "expires_at", "per_customer_limit", "created_at", *DISCOUNT_COLUMNS,
                  "metadata"]  # fmt: skip
        rows = (
            [c, i, r, a, s and s.isoformat(), e and e.isoformat(), lim, cr.isoformat(),
             None if pct is None else percent_json(pct), *amounts, json.dumps(meta)]
            for c, i, r, a, s, e, lim, cr, pct, *amounts, meta in queryset.order_by()
            .values_list(*header)
            .iterator(chunk_size=2000)
        )  # fmt: skip
        response = StreamingHttpResponse(_csv_rows(header, rows), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="coupons.csv"'
        return response

    def get_urls(self) -> list[URLPattern]:
        batch = path(
            "generate/",
            self.admin_site.admin_view(self.generate_view),
            name="coupons_coupon_generate",
        )
        return [batch, *super().get_urls()]

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = BatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                codes = batches.create_coupon_batch(
                    count=data["count"], prefix=data["prefix"] or "", length=data["length"],
                    init_count=data["init_count"], starts_at=data["starts_at"],
                    expires_at=data["expires_at"], discount=discount_of(data),
                )  # fmt: skip
            except DomainError as exc:
                messages.error(request, f"Nothing created: {exc.detail}")
            else:
                stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
                response = HttpResponse(
                    "".join(_csv_rows(["code"], iter([[c] for c in codes]))),
                    content_type="text/csv",
                )
                response["Content-Disposition"] = f'attachment; filename="codes-{stamp}.csv"'
                return response
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate a batch of coupons",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/coupons/generate.html", context)


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


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
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
        response = StreamingHttpResponse(_csv_rows(header, rows), content_type="text/csv")
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
        coupons = Coupon.objects.filter(code__upper__startswith=term.upper()).values("pk")
        matching = (
            Redemption.objects.filter(customer_id=term).values("pk")
            .union(Redemption.objects.filter(order_id=term).values("pk"))
            .union(Redemption.objects.filter(coupon_id__in=coupons).values("pk"))
        )  # fmt: skip
        return queryset.filter(pk__in=matching), False

    @admin.display(description="code", ordering="coupon__code")
    def coupon_code(self, redemption: Redemption) -> str:
        return redemption.coupon.code

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # redemptions come from checkouts, through the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit trail

    def has_revert_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("coupons.change_coupon")

    @admin.action(description="Revert selected redemptions (give the use back)",
                  permissions=["revert"])  # fmt: skip
    def revert(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        done = skipped = 0
        for redemption_id in queryset.values_list("pk", flat=True):
            try:
                redemptions.revert_redemption(redemption_id)
                done += 1
            except DomainError:
                skipped += 1
        self.message_user(request, f"Reverted {done}; {skipped} were already reverted.")


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


# Campaigns have their own module (it reuses the discount helpers above); imported here,
# where the admin's autodiscovery looks.
from coupons import campaign_admin  # noqa: E402, F401
