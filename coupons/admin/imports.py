"""The admin's upload of codes a shop already has: the same reading and rules as
`POST /v1/coupons/import/` (coupons.api.import_views, coupons.services.imports)."""

from __future__ import annotations

from django import forms

from coupons.models.campaign import Campaign


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="UTF-8 CSV; line 1 names the columns (code and init_count required)."
    )
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.order_by("-created_at"), required=False,
        help_text="The codes join it and take its discount.",
    )  # fmt: skip


def line_order(key: str) -> tuple[int, str]:
    """An error's "<line>.<column>" key, sorted by line number first."""
    line, _, column = key.partition(".")
    return (int(line) if line.isdigit() else 0, column)
