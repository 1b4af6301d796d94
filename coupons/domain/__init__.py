"""The coupon rules with no database and no HTTP: limits, errors' meanings, what is redeemable."""
