"""Input of the campaign endpoints: JSON types checked strictly, no database access."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import InputSerializer, StrictBooleanField, StrictIntegerField
from core.api.money_fields import AmountField, CurrencyField, MetadataField, MetadataPatchField
from coupons.api.serializers import (
    DiscountInput,
    QueryBooleanField,
    TextField,
    TimestampField,
    check_window,
)
from coupons.domain.limits import MAX_INIT_COUNT
from coupons.models.campaign import MAX_CAMPAIGN_NAME_LENGTH

BUDGET_CURRENCY_MESSAGE = "A budget needs a discount in the budget's currency."


class BudgetInput(InputSerializer):
    """At most this much discount in total, in the discount's currency's minor unit."""

    amount = AmountField()
    currency = CurrencyField()


def _limit() -> StrictIntegerField:
    return StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_INIT_COUNT
    )


class CampaignFieldsMixin(InputSerializer):
    is_active = StrictBooleanField(required=False)
    starts_at = TimestampField(required=False, allow_null=True)
    expires_at = TimestampField(required=False, allow_null=True)
    discount = DiscountInput(required=False, allow_null=True)
    # Across all the campaign's codes: a customer's live redemptions, and all of them.
    per_customer_limit = _limit()
    max_redemptions = _limit()
    budget = BudgetInput(required=False, allow_null=True)


def check_budget_currency(attrs: dict[str, Any]) -> None:
    budget, discount = attrs.get("budget"), attrs.get("discount")
    if budget is not None and (discount is None or discount["currency"] != budget["currency"]):
        raise serializers.ValidationError({"budget": {"currency": [BUDGET_CURRENCY_MESSAGE]}})


class CampaignCreateInput(CampaignFieldsMixin):
    name = TextField(min_length=1, max_length=MAX_CAMPAIGN_NAME_LENGTH)
    metadata = MetadataField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_window(attrs)
        check_budget_currency(attrs)
        return attrs


class CampaignPatchInput(CampaignFieldsMixin):
    name = TextField(required=False, min_length=1, max_length=MAX_CAMPAIGN_NAME_LENGTH)
    # Merged: a key set to null is removed.
    metadata = MetadataPatchField(required=False)
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
