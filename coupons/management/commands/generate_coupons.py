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
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

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
from coupons.domain.metadata import metadata_problems
from coupons.errors import ValidationFailed
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
        parser.add_argument("--init-count", type=int, default=1, help="uses per coupon")
        parser.add_argument("--starts-at", type=timestamp, default=None)
        parser.add_argument("--expires-at", type=timestamp, default=None)
        parser.add_argument("--per-customer-limit", type=int, default=None)
        parser.add_argument("--inactive", action="store_true", help="create them deactivated")
        parser.add_argument(
            "--campaign", type=uuid.UUID, default=None, metavar="ID",
            help="the codes join this campaign and take its discount",
        )  # fmt: skip
        discount = parser.add_argument_group("discount (as the API's `discount`)")
        discount.add_argument(
            "--percent-off", type=percent, default=None, help="e.g. 12.5 (at most 2 decimals)"
        )
        discount.add_argument("--amount-off", type=int, default=None, help="in minor units")
        discount.add_argument("--currency", default=None, help="ISO 4217, e.g. EUR")
        discount.add_argument("--max-amount-off", type=int, default=None, help="in minor units")
        discount.add_argument("--min-order-amount", type=int, default=None, help="in minor units")
        parser.add_argument(
            "--metadata", action="append", default=[], metavar="KEY=VALUE",
            help="one metadata entry on every coupon (repeatable)",
        )  # fmt: skip
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
                    init_count=opts["init_count"],
                    is_active=not opts["inactive"],
                    starts_at=opts["starts_at"],
                    expires_at=opts["expires_at"],
                    per_customer_limit=opts["per_customer_limit"],
                    discount=self._discount(opts),
                    metadata=self._metadata(opts),
                    campaign_id=opts["campaign"],
                    chunk_size=opts["chunk_size"],
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
        if not 1 <= opts["init_count"] <= MAX_INIT_COUNT:
            problems.append(f"--init-count must be 1 to {MAX_INIT_COUNT}")
        if opts["per_customer_limit"] is not None and opts["per_customer_limit"] < 1:
            problems.append("--per-customer-limit must be at least 1")
        if opts["starts_at"] and opts["expires_at"] and opts["starts_at"] >= opts["expires_at"]:
            problems.append("--expires-at must be after --starts-at")
        if not 1 <= opts["chunk_size"] <= MAX_BATCH_CHUNK_SIZE:
            problems.append(f"--chunk-size must be 1 to {MAX_BATCH_CHUNK_SIZE}")
        if not opts["output"].parent.resolve().is_dir():
            problems.append(f"--output: no directory {opts['output'].parent}")
        discount = {name: opts[name] for name in DISCOUNT_FIELDS}
        if any(value is not None for value in discount.values()):
            if opts["campaign"] is not None:
                problems.append("--campaign: its codes take the campaign's discount")
            for name, messages in discount_problems(**discount).items():
                problems.append(f"--{name.replace('_', '-')}: {' '.join(messages)}")
        pairs = [entry.partition("=") for entry in opts["metadata"]]
        if any(not sep for _, sep, _ in pairs):
            problems.append("--metadata: give KEY=VALUE")
        else:
            for name, messages in metadata_problems(self._metadata(opts)).items():
                problems.append(f"--{name}: {' '.join(messages)}")
        if problems:
            raise CommandError("; ".join(problems))

    @staticmethod
    def _discount(opts: dict[str, Any]) -> Discount | None:
        values = {name: opts[name] for name in DISCOUNT_FIELDS}
        if all(value is None for value in values.values()):
            return None
        return Discount(**values)

    @staticmethod
    def _metadata(opts: dict[str, Any]) -> dict[str, str]:
        return dict(entry.partition("=")[::2] for entry in opts["metadata"])
