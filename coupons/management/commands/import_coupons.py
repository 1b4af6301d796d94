"""Import codes a shop already has from a CSV file of any size, streamed in chunks with a
progress bar, all or none in one transaction (as `POST /v1/coupons/import/` takes them,
without its 10,000-row cap). Memory stays flat in the file's size: rows are read as they
are inserted, and the unique index finds codes already taken or repeated."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.errors import ValidationFailed
from coupons.api.import_views import IMPORT_COLUMNS, import_rows
from coupons.domain.limits import BATCH_CHUNK_SIZE, MAX_BATCH_CHUNK_SIZE
from coupons.services.imports import import_coupons

# Errors listed at most (all are counted): a file of a million bad lines is one mistake.
SHOWN_ERRORS = 1_000


def count_lines(path: Path) -> int:
    """Lines in the file, read in binary blocks (fast): the progress bar's total."""
    lines = 0
    with path.open("rb") as raw:
        while block := raw.read(1 << 20):
            lines += block.count(b"\n")
    return lines


class Command(BaseCommand):
    help = (
        "Create one coupon per row of a CSV file (header: "
        f"{', '.join(IMPORT_COLUMNS)}; code and init_count required), all or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="UTF-8 CSV, the header on line 1")
        parser.add_argument(
            "--campaign", type=uuid.UUID, default=None, metavar="ID",
            help="the codes join this campaign and take its discount",
        )  # fmt: skip
        parser.add_argument(
            "--chunk-size", type=int, default=BATCH_CHUNK_SIZE, help="rows a statement"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"no file {path}")
        if not 1 <= opts["chunk_size"] <= MAX_BATCH_CHUNK_SIZE:
            raise CommandError(f"--chunk-size must be 1 to {MAX_BATCH_CHUNK_SIZE}")
        started = time.monotonic()
        total = 0 if opts["no_progress"] else max(count_lines(path) - 1, 0)
        try:
            with (
                path.open(encoding="utf-8-sig", newline="") as lines,
                tqdm(
                    total=total, unit="row", unit_scale=True, disable=opts["no_progress"],
                    file=sys.stderr,
                ) as progress,
            ):  # fmt: skip
                created = import_coupons(
                    import_rows(lines),
                    campaign_id=opts["campaign"],
                    chunk_size=opts["chunk_size"],
                    on_chunk=progress.update,
                    error_limit=SHOWN_ERRORS,
                )
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text: {exc.reason}; nothing imported") from exc
        except ValidationFailed as exc:
            listed = "\n".join(
                f"  line {key}: {' '.join(messages)}" for key, messages in exc.errors.items()
            )
            raise CommandError(f"{exc.detail}\n{listed}") from exc
        elapsed = time.monotonic() - started
        rate = created / elapsed if elapsed else float("inf")
        self.stdout.write(f"imported {created} coupons in {elapsed:.1f} s ({rate:,.0f}/s)")
