"""The fields a client or staff may write on a coupon and on a campaign, declared ONCE.

The API's inputs, the answers' shapes, the batch INSERT, the admin's forms, the
generate_coupons options and the CSV export are derived from these tuples: each layer keeps
one table from a field's `Kind` to its own field (a DRF field, a form field, an argparse
option, a CSV cell), so a new field of a known kind is the model, its migration, one line
here and the docs (tests/coupons/test_writable_fields.py proves every path takes it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from coupons.domain.discounts import DISCOUNT_FIELDS, discount_columns
from coupons.domain.limits import MAX_CAMPAIGN_NAME_LENGTH


class Kind(StrEnum):
    CODE = "code"  # a code: limits.CODE_PATTERN, 1 to MAX_CODE_LENGTH
    NAME = "name"  # text, never blank, at most `max_length`
    TEXT = "text"  # text, may be empty (the default), at most `max_length`
    COUNT = "count"  # uses: 1 to MAX_INIT_COUNT
    LIMIT = "limit"  # 1 to MAX_INIT_COUNT, or null: no limit
    FLAG = "flag"  # true or false, true by default
    MOMENT = "moment"  # a timestamp with its offset, or null
    DISCOUNT = "discount"  # coupons.domain.discounts, as the five discount_* columns
    BUDGET = "budget"  # an amount in a currency, as budget_amount and budget_currency
    METADATA = "metadata"  # the client's object of strings (core.domain.metadata)
    CAMPAIGN = "campaign"  # the id of the campaign a code joins, or null


@dataclass(frozen=True)
class Writable:
    """One writable field: its name in the API (and its column, but for the kinds of
    several columns), its kind, and where it may be written."""

    name: str
    kind: Kind
    required_on_create: bool = False
    create_only: bool = False  # set when made, never changed (a PATCH or an edit refuses it)
    per_code: bool = False  # one value per code: not a field of a batch
    max_length: int | None = None  # NAME and TEXT
    help: str = ""  # the answers' (and the OpenAPI document's) description


COUPON_FIELDS: tuple[Writable, ...] = (
    Writable("code", Kind.CODE, required_on_create=True, create_only=True, per_code=True),
    Writable("init_count", Kind.COUNT, required_on_create=True),
    Writable("is_active", Kind.FLAG),
    Writable("starts_at", Kind.MOMENT),
    Writable("expires_at", Kind.MOMENT),
    Writable("per_customer_limit", Kind.LIMIT),
    Writable(
        "discount",
        Kind.DISCOUNT,
        help="null: a code that only counts uses, or a code of a campaign (the campaign's "
        "discount applies).",
    ),
    Writable("metadata", Kind.METADATA),
    Writable("campaign_id", Kind.CAMPAIGN, create_only=True, help="null: a code of no campaign."),
)

CAMPAIGN_FIELDS: tuple[Writable, ...] = (
    Writable("name", Kind.NAME, required_on_create=True, max_length=MAX_CAMPAIGN_NAME_LENGTH),
    Writable("is_active", Kind.FLAG),
    Writable("starts_at", Kind.MOMENT),
    Writable("expires_at", Kind.MOMENT),
    Writable("discount", Kind.DISCOUNT, help="Its codes' discount; null: none."),
    Writable(
        "per_customer_limit", Kind.LIMIT, help="A customer's live redemptions across its codes."
    ),
    Writable("max_redemptions", Kind.LIMIT),
    Writable("budget", Kind.BUDGET, help="At most this much discount in total."),
    Writable("metadata", Kind.METADATA),
)

BUDGET_COLUMNS = ("budget_amount", "budget_currency")


def editable(fields: Iterable[Writable]) -> tuple[Writable, ...]:
    """The fields a PATCH or the admin's edit may change."""
    return tuple(field for field in fields if not field.create_only)


def batch_fields(fields: Iterable[Writable]) -> tuple[Writable, ...]:
    """The fields a batch gives all its codes alike."""
    return tuple(field for field in fields if not field.per_code)


def columns(field: Writable) -> tuple[str, ...]:
    """The table's columns (attribute names) that hold `field`."""
    if field.kind is Kind.DISCOUNT:
        return tuple(discount_columns(None))
    if field.kind is Kind.BUDGET:
        return BUDGET_COLUMNS
    return (field.name,)


def all_columns(fields: Iterable[Writable]) -> tuple[str, ...]:
    return tuple(column for field in fields for column in columns(field))


def default(field: Writable) -> Any:
    """A field's value when a create does not give it."""
    if field.kind is Kind.FLAG:
        return True
    if field.kind is Kind.METADATA:
        return {}
    if field.kind is Kind.TEXT:
        return ""
    return None


def check_names(fields: Iterable[Writable], given: Iterable[str], *, create: bool) -> None:
    """A programming error (not a client's): a name that is no writable field, or (on a
    create) a required field left out."""
    names = set(given)
    unknown = names - {field.name for field in fields}
    if unknown:
        raise TypeError(f"not writable: {', '.join(sorted(unknown))}")
    missing = {f.name for f in fields if create and f.required_on_create} - names
    if missing:
        raise TypeError(f"required: {', '.join(sorted(missing))}")


def column_values(fields: Iterable[Writable], values: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of `fields` for `values` (API names; a field not given takes its
    default). A discount must be a `Discount` (or None) by now; a budget, a mapping of
    `amount` and `currency` (or None)."""
    row: dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name, default(field))
        if field.kind is Kind.DISCOUNT:
            row.update(discount_columns(value))
        elif field.kind is Kind.BUDGET:
            amount, currency = (
                (None, None) if value is None else (value["amount"], value["currency"])
            )
            row.update(budget_amount=amount, budget_currency=currency)
        elif field.kind is Kind.METADATA:
            row[field.name] = dict(value or {})
        else:
            row[field.name] = value
    return row


def values_from_columns(fields: Iterable[Writable], row: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `column_values`: API values from columns (the admin's forms). A
    discount comes back as the five API keys and its targeting, None when all are empty."""
    values: dict[str, Any] = {}
    for field in fields:
        if field.kind is Kind.DISCOUNT:
            parts = {name: row.get(f"discount_{name}") for name in DISCOUNT_FIELDS}
            rules = row.get("discount_rules") or {}
            empty = all(v is None for v in parts.values()) and not rules
            values[field.name] = None if empty else {**parts, **rules}
        elif field.kind is Kind.BUDGET:
            amount, currency = (row.get(column) for column in BUDGET_COLUMNS)
            values[field.name] = (
                None if amount is None else {"amount": amount, "currency": currency}
            )
        else:
            values[field.name] = row.get(field.name)
    return values
