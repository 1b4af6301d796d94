"""The ledger's tables, one import path: `from coupons.models import Coupon`."""

from coupons.models.campaign import Campaign, CampaignCustomer
from coupons.models.coupon import Coupon, CouponQuerySet, Redemption
from coupons.models.group import RedemptionGroup, ReservationGroup
from coupons.models.reservation import Reservation, ReservationStatus

__all__ = [
    "Campaign",
    "CampaignCustomer",
    "Coupon",
    "CouponQuerySet",
    "Redemption",
    "RedemptionGroup",
    "Reservation",
    "ReservationGroup",
    "ReservationStatus",
]
