"""The JSON shapes of responses, built by hand: one pass, no serializer machinery."""

from __future__ import annotations

from typing import Any

from coupons.api.http import rfc3339
from coupons.models import Coupon
from coupons.repository import RedemptionRecord, ValidationResult


def coupon_json(coupon: Coupon) -> dict[str, Any]:
    return {
        "id": str(coupon.id),
        "code": coupon.code,
        "init_count": coupon.init_count,
        "remaining_count": coupon.remaining_count,
        "is_active": coupon.is_active,
        "starts_at": rfc3339(coupon.starts_at),
        "expires_at": rfc3339(coupon.expires_at),
        "per_customer_limit": coupon.per_customer_limit,
        "created_at": rfc3339(coupon.created_at),
        "updated_at": rfc3339(coupon.updated_at),
    }


def redemption_json(redemption: RedemptionRecord) -> dict[str, Any]:
    return {
        "id": str(redemption.id),
        "coupon_id": str(redemption.coupon_id),
        "code": redemption.code,
        "customer_id": redemption.customer_id,
        "order_id": redemption.order_id,
        "remaining_count": redemption.remaining_count,
        "redeemed_at": rfc3339(redemption.redeemed_at),
        "reverted_at": rfc3339(redemption.reverted_at),
    }


def validation_json(result: ValidationResult) -> dict[str, Any]:
    return {
        "valid": result.valid,
        "reason": result.reason,
        "remaining_count": result.remaining_count,
    }
