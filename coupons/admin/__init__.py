"""The staff's admin of the ledger, one module per table; every write goes through the
services, as the API's do. Django's autodiscovery imports this package."""

from coupons.admin import campaign, coupon, group, reservation

__all__ = ["campaign", "coupon", "group", "reservation"]
