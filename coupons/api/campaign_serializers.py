"""Input of the campaign endpoints: JSON types checked strictly, no database access."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import InputSerializer
from coupons.api.serializers import QueryBooleanField, check_window, writable_input
from coupons.domain.writable import CAMPAIGN_FIELDS

BUDGET_CURRENCY_MESSAGE = "A budget needs a discount in the budget's currency."


def check_budget_currency(attrs: dict[str, Any]) -> None:
    budget, discount = attrs.get("budget"), attrs.get("discount")
    if budget is not None and (discount is None or discount["currency"] != budget["currency"]):
        raise serializers.ValidationError({"budget": {"currency": [BUDGET_CURRENCY_MESSAGE]}})


@writable_input(CAMPAIGN_FIELDS, "create")
class CampaignCreateInput(InputSerializer):
    """A new campaign: its name, and optionally a discount, window, limits,
    budget and metadata."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_window(attrs)
        check_budget_currency(attrs)
        return attrs


@writable_input(CAMPAIGN_FIELDS, "patch")
class CampaignPatchInput(InputSerializer):
    """The fields to change; the others stay as they are."""

    refused = {
        "redemption_count": "Read-only: counted by redemptions.",
        "held_count": "Read-only.",
        "discount_total": "Read-only: counted by redemptions.",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_window(attrs)
        # A budget and a discount changed together must agree; either one alone is
        # checked against the other as stored, by the service.
        if "budget" in attrs and "discount" in attrs:
            check_budget_currency(attrs)
        return attrs


class CampaignFilters(InputSerializer):
    is_active = QueryBooleanField(required=False)
