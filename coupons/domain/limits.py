"""Bounds of every input, one home: the API's serializers, the admin's forms, the management
commands and the models' CHECK constraints all read them from here."""

from __future__ import annotations

from datetime import UTC, datetime

# A code: 1 to 64 of A-Z a-z 0-9 - _, first one a letter or digit. Patterns are ECMA-262
# (the OpenAPI document shows them); match them whole (re.fullmatch): `$` also matches
# before a final newline, which let "NEWLINE\n" pass.
MAX_CODE_LENGTH = 64
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
CODE_RULE = "Use 1 to 64 of A-Z a-z 0-9 - _, starting with a letter or digit."
# A looked-up code (what a shopper typed): longer strings simply match no coupon.
MAX_LOOKUP_LENGTH = 256

MAX_INIT_COUNT = 1_000_000_000
MAX_CUSTOMER_ID_LENGTH = 128
MAX_ORDER_ID_LENGTH = 128

# Timestamps: the years PostgreSQL, Python and every client agree on, in UTC (where a
# timestamp is stored and shown: 9899-12-31T23:59:59-23:59 is 9900 there).
FIRST_YEAR, LAST_YEAR = 1970, 9899
TIMESTAMP_YEARS_RULE = f"The year must be {FIRST_YEAR} to {LAST_YEAR} in UTC."


def timestamp_in_range(moment: datetime) -> bool:
    """Whether an aware `moment` falls in FIRST_YEAR..LAST_YEAR once in UTC: the one check
    of the API's, the admin's and the commands' timestamps."""
    try:
        return FIRST_YEAR <= moment.astimezone(UTC).year <= LAST_YEAR
    except OverflowError:  # past year 9999 or before year 1 in UTC
        return False


# Generated batches: read aloud and typed by hand, so no 0 O 1 I L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
MAX_BATCH = 10_000
MIN_RANDOM_LENGTH, MAX_RANDOM_LENGTH = 6, 32
MAX_PREFIX_LENGTH = MAX_CODE_LENGTH - MIN_RANDOM_LENGTH
PREFIX_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_-]*)?$"
PREFIX_RULE = "Use A-Z a-z 0-9 - _, starting with a letter or digit."
# Rows one INSERT may carry: 18 parameters a row (the discount with its targeting,
# metadata and campaign columns included) stays under PostgreSQL's 65,535 and SQLite's
# 32,766 parameters a statement.
BATCH_CHUNK_SIZE = 1_800
MAX_BATCH_CHUNK_SIZE = 1_800

MAX_CAMPAIGN_NAME_LENGTH = 200

# Orders with lines (the contract's third part) and the discounts that target them.
MAX_LINES = 500
MAX_QUANTITY = 1_000_000
MAX_LINE_TEXT_LENGTH = 128  # a line's id, product_id, variant_id, a category or collection
MAX_LINE_TAGS = 20  # categories, collections: each at most this many
MAX_SELECTOR_ITEMS = 100  # each list of an applies_to or excludes
MAX_APPLICATIONS = 1_000_000

# Several codes on one order (coupons.domain.stacking).
MAX_CODES = 5
