"""Generate many coupons with random codes, streamed in chunks, with a progress bar.

All or none: the codes are inserted in one transaction and written to a temporary file
that replaces --output only after the commit, so a failed run leaves neither rows nor CSV.
Memory stays flat in --count: the database's unique index, not a set in memory, keeps codes
unique.
"""

from __future__ import annotations

import csv
import os
import re
import sys
import tempfile
import time
import uuid
from argparse import BooleanOptionalAction
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from core.domain.metadata import metadata_problems
from core.errors import ValidationFailed
from coupons.domain.discounts import DISCOUNT_FIELDS, Discount, discount_problems
from coupons.domain.limits import (
    BATCH_CHUNK_SIZE,
    MAX_BATCH_CHUNK_SIZE,
    MAX_CODE_LENGTH,
    MAX_INIT_COUNT,
    MAX_RANDOM_LENGTH,
    MIN_RANDOM_LENGTH,
    PREFIX_PATTERN,
    PREFIX_RULE,
    TIMESTAMP_YEARS_RULE,
    timestamp_in_range,
)
from coupons.domain.writable import COUPON_FIELDS, Kind, Writable, batch_fields
from coupons.services.batches import generate_coupons


def percent(value: str) -> Decimal:
    """Read as a Decimal, exactly as the API reads a JSON number (never a float)."""
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("give the offset, e.g. 2026-12-27T00:00:00Z")
    if not timestamp_in_range(parsed):
        raise ValueError(TIMESTAMP_YEARS_RULE)
    return parsed


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _discount_options(parser: CommandParser, field: Writable) -> None:
    group = parser.add_argument_group("discount (as the API's `discount`)")
    group.add_argument("--percent-off", type=percent, help="e.g. 12.5 (at most 2 decimals)")
    for name in DISCOUNT_FIELDS[1:]:
        if name == "currency":
            group.add_argument("--currency", help="ISO 4217, e.g. EUR")
        else:
            group.add_argument(option(name), type=int, help="in minor units")


# How each kind of coupons.domain.writable is given on the command line (dest: its name).
_ADD_OPTION: dict[Kind, Callable[[CommandParser, Writable], Any]] = {
    Kind.COUNT: lambda parser, f: parser.add_argument(
        option(f.name), dest=f.name, type=int, default=1, help=f"1 to {MAX_INIT_COUNT}"
    ),
    Kind.LIMIT: lambda parser, f: parser.add_argument(
        option(f.name), dest=f.name, type=int, help="at least 1; default: none"
    ),
    Kind.FLAG: lambda parser, f: parser.add_argument(
        option(f.name), dest=f.name, action=BooleanOptionalAction, default=True
    ),
    Kind.MOMENT: lambda parser, f: parser.add_argument(
        option(f.name), dest=f.name, type=timestamp, help="e.g. 2027-01-01T00:00:00Z"
    ),
    Kind.TEXT: lambda parser, f: parser.add_argument(option(f.name), dest=f.name, default=""),
    Kind.DISCOUNT: _discount_options,
    Kind.METADATA: lambda parser, f: parser.add_argument(
        option(f.name), dest=f.name, action="append", default=[], metavar="KEY=VALUE",
        help="one metadata entry on every coupon (repeatable)",
    ),
    Kind.CAMPAIGN: lambda parser, f: parser.add_argument(
        option(f.name.removesuffix("_id")), dest=f.name, type=uuid.UUID, metavar="ID",
        help="the codes join this campaign and take its discount",
    ),
}  # fmt: skip


def _discount(opts: dict[str, Any], field: Writable) -> Discount | None:
    values = {name: opts[name] for name in DISCOUNT_FIELDS}
    return None if all(v is None for v in values.values()) else Discount(**values)


def _metadata(opts: dict[str, Any], field: Writable) -> dict[str, str]:
    return dict(entry.partition("=")[::2] for entry in opts[field.name])


def _given(opts: dict[str, Any], field: Writable) -> Any:
    return opts[field.name]


# A field's value from the parsed options, by kind (the option's own value unless here).
_VALUE: dict[Kind, Callable[[dict[str, Any], Writable], Any]] = {
    Kind.DISCOUNT: _discount,
    Kind.METADATA: _metadata,
}


def _count_problems(opts: dict[str, Any], field: Writable) -> list[str]:
    if not 1 <= opts[field.name] <= MAX_INIT_COUNT:
        return [f"{option(field.name)} must be 1 to {MAX_INIT_COUNT}"]
    return []


def _limit_problems(opts: dict[str, Any], field: Writable) -> list[str]:
    value = opts[field.name]
    if value is not None and value < 1:
        return [f"{option(field.name)} must be at least 1"]
    if value is not None and value > MAX_INIT_COUNT:
        return [f"{option(field.name)} must be at most {MAX_INIT_COUNT}"]
    return []


def _text_problems(opts: dict[str, Any], field: Writable) -> list[str]:
    if field.max_length is not None and len(opts[field.name]) > field.max_length:
        return [f"{option(field.name)} must be at most {field.max_length} characters"]
    return []


def _discount_problems(opts: dict[str, Any], field: Writable) -> list[str]:
    discount = {name: opts[name] for name in DISCOUNT_FIELDS}
    if all(value is None for value in discount.values()):
        return []
    return [
        f"{option(name)}: {' '.join(messages)}"
        for name, messages in discount_problems(**discount).items()
    ]


def _metadata_problems(opts: dict[str, Any], field: Writable) -> list[str]:
    if any(not sep for _, sep, _ in (entry.partition("=") for entry in opts[field.name])):
        return [f"{option(field.name)}: give KEY=VALUE"]
    problems = metadata_problems(_metadata(opts, field), field=field.name)
    return [f"--{name}: {' '.join(messages)}" for name, messages in problems.items()]


# A field's own bounds, by kind, as messages naming its option.
_PROBLEMS: dict[Kind, Callable[[dict[str, Any], Writable], list[str]]] = {
    Kind.COUNT: _count_problems,
    Kind.LIMIT: _limit_problems,
    Kind.TEXT: _text_problems,
    Kind.DISCOUNT: _discount_problems,
    Kind.METADATA: _metadata_problems,
}

FIELDS = batch_fields(COUPON_FIELDS)


class Command(BaseCommand):
    help = "Create --count coupons with random codes and write the codes to a CSV file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="how many coupons")
        parser.add_argument("--prefix", default="", help="e.g. XMAS-")
        parser.add_argument(
            "--length",
            type=int,
            default=10,
            help=f"random characters ({MIN_RANDOM_LENGTH}-{MAX_RANDOM_LENGTH})",
        )
        for field in FIELDS:
            _ADD_OPTION[field.kind](parser, field)
        # The spelling of --no-is-active before the options came from COUPON_FIELDS.
        parser.add_argument(
            "--inactive", dest="is_active", action="store_false", help="as --no-is-active"
        )
        parser.add_argument("--output", type=Path, required=True, help="CSV file to write")
        parser.add_argument(
            "--chunk-size", type=int, default=BATCH_CHUNK_SIZE, help="rows a statement"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        self._check(opts)
        output: Path = opts["output"]
        started = time.monotonic()
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{output.name}.", suffix=".partial", dir=output.parent.resolve()
        )
        try:
            with (
                os.fdopen(handle, "w", newline="") as out,
                tqdm(
                    total=opts["count"],
                    unit="code",
                    unit_scale=True,
                    disable=opts["no_progress"],
                    file=sys.stderr,
                ) as progress,
                transaction.atomic(),
            ):
                writer = csv.writer(out)
                writer.writerow(["code"])
                for chunk in generate_coupons(
                    count=opts["count"],
                    prefix=opts["prefix"],
                    length=opts["length"],
                    chunk_size=opts["chunk_size"],
                    **{f.name: _VALUE.get(f.kind, _given)(opts, f) for f in FIELDS},
                ):
                    writer.writerows([code] for code in chunk)
                    progress.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, output)
        except ValidationFailed as exc:
            raise CommandError(f"{exc.detail} {exc.errors}") from exc
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
        elapsed = time.monotonic() - started
        rate = opts["count"] / elapsed if elapsed else float("inf")
        self.stdout.write(
            f"created {opts['count']} coupons in {elapsed:.1f} s ({rate:,.0f}/s); codes in {output}"
        )

    def _check(self, opts: dict[str, Any]) -> None:
        problems = []
        if opts["count"] < 1:
            problems.append("--count must be at least 1")
        if not MIN_RANDOM_LENGTH <= opts["length"] <= MAX_RANDOM_LENGTH:
            problems.append(f"--length must be {MIN_RANDOM_LENGTH} to {MAX_RANDOM_LENGTH}")
        if len(opts["prefix"]) + opts["length"] > MAX_CODE_LENGTH:
            problems.append(f"prefix + length must be at most {MAX_CODE_LENGTH}")
        if not re.fullmatch(PREFIX_PATTERN, opts["prefix"]):
            problems.append(f"--prefix: {PREFIX_RULE}")
        for field in FIELDS:
            if field.kind in _PROBLEMS:
                problems.extend(_PROBLEMS[field.kind](opts, field))
        if opts["starts_at"] and opts["expires_at"] and opts["starts_at"] >= opts["expires_at"]:
            problems.append("--expires-at must be after --starts-at")
        if not 1 <= opts["chunk_size"] <= MAX_BATCH_CHUNK_SIZE:
            problems.append(f"--chunk-size must be 1 to {MAX_BATCH_CHUNK_SIZE}")
        if not opts["output"].parent.resolve().is_dir():
            problems.append(f"--output: no directory {opts['output'].parent}")
        discount_given = any(opts[name] is not None for name in DISCOUNT_FIELDS)
        if opts["campaign_id"] is not None and discount_given:
            problems.append("--campaign: its codes take the campaign's discount")
        if problems:
            raise CommandError("; ".join(problems))
