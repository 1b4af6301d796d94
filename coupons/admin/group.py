"""The staff's admin of several codes redeemed on one order: a redemption shows its group and
its siblings, and a group is reverted through the service the API's revert uses
(coupons.services.groups)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from core.errors import DomainError
from coupons.admin.lists import RevertibleTrail
from coupons.models import Redemption, RedemptionGroup
from coupons.services import groups


def _redemption_rows(redemptions: list[Redemption]) -> str:
    """A row per member redemption: its code (a link to it), its discount, its state."""
    rows = format_html_join(
        "",
        '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
        (
            (
                reverse("admin:coupons_redemption_change", args=[r.pk]),
                r.coupon.code,
                "-" if r.discount_amount is None else r.discount_amount,
                "reverted" if r.reverted_at else "live",
            )
            for r in redemptions
        ),
    )
    return format_html(
        "<table><tr><th>code</th><th>discount</th><th>state</th></tr>{}</table>", rows
    )


def _members(group_id: uuid.UUID) -> list[Redemption]:
    return list(
        Redemption.objects.filter(group_id=group_id)
        .select_related("coupon")
        .order_by("group_position", "id")
    )


class GroupedRedemption:
    """The fields a redemption's page shows about its group (RedemptionAdmin)."""

    @admin.display(description="group")
    def group_link(self, redemption: Redemption) -> str:
        if redemption.group_id is None:
            return "- (redeemed alone)"
        url = reverse("admin:coupons_redemptiongroup_change", args=[redemption.group_id])
        return format_html('<a href="{}">{}</a>', url, redemption.group_id)

    @admin.display(description="redeemed with")
    def siblings(self, redemption: Redemption) -> str:
        if redemption.group_id is None:
            return "-"
        others = [r for r in _members(redemption.group_id) if r.pk != redemption.pk]
        return _redemption_rows(others) if others else "-"


@admin.register(RedemptionGroup)
class RedemptionGroupAdmin(RevertibleTrail):
    list_display = ("id", "codes_sent", "customer_id", "order_id", "discount_amount", "currency",
                    "live_members", "created_at")  # fmt: skip
    search_fields = ("=customer_id", "=order_id")
    list_filter = ("created_at",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = ("revert",)
    readonly_fields = ("members", "revert_button")

    def get_queryset(self, request: HttpRequest) -> QuerySet[RedemptionGroup]:
        live = Q(redemptions__reverted_at__isnull=True)
        return super().get_queryset(request).annotate(live=Count("redemptions", filter=live))

    @admin.display(description="codes")
    def codes_sent(self, group: RedemptionGroup) -> str:
        return ", ".join(group.codes)

    @admin.display(description="live redemptions", ordering="live")
    def live_members(self, group: RedemptionGroup) -> int:
        return int(getattr(group, "live", 0))

    @admin.display(description="redemptions (in the order applied)")
    def members(self, group: RedemptionGroup) -> str:
        return _redemption_rows(_members(group.pk))

    @admin.display(description="revert")
    def revert_button(self, group: RedemptionGroup) -> str:
        url = reverse("admin:coupons_redemptiongroup_revert", args=[group.pk])
        # The change page's own form (and its CSRF token), posted to the revert view.
        return format_html(
            '<button type="submit" formaction="{}" formmethod="post">Revert every live '
            "redemption of this group</button>",
            url,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self.has_revert_permission(request):
            return self.readonly_fields
        return tuple(f for f in self.readonly_fields if f != "revert_button")

    @admin.action(description="Revert selected groups (give their uses back)",
                  permissions=["revert"])  # fmt: skip
    def revert(self, request: HttpRequest, queryset: QuerySet[RedemptionGroup]) -> None:
        self.revert_each(request, queryset, groups.revert_redemption_group)

    def get_urls(self) -> list[URLPattern]:
        revert = path(
            "<path:object_id>/revert/",
            self.admin_site.admin_view(self.revert_view),
            name="coupons_redemptiongroup_revert",
        )
        return [revert, *super().get_urls()]

    def revert_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_revert_permission(request):
            raise PermissionDenied
        group = self.get_object(request, object_id)
        if group is None:
            raise Http404(f"No redemption group has the id {object_id}.")
        try:
            groups.revert_redemption_group(group.pk)
            self.message_user(request, "Reverted every live redemption of the group.")
        except DomainError as exc:
            self.message_user(request, exc.detail, level=messages.WARNING)
        return HttpResponseRedirect(
            reverse("admin:coupons_redemptiongroup_change", args=[group.pk])
        )
