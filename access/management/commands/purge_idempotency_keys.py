"""Delete stored Idempotency-Key answers older than the retention (24 hours by default)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.services.idempotency import purge_idempotency_records


class Command(BaseCommand):
    help = (
        "Delete Idempotency-Key records older than --hours (default IDEMPOTENCY_KEY_TTL_HOURS, "
        "24). Run it from cron, e.g. hourly; a retry after its key is purged runs afresh."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=int,
            default=settings.IDEMPOTENCY_KEY_TTL_HOURS,
            help="keep keys at least this many hours (the contract promises 24)",
        )

    def handle(self, *args: Any, hours: int, **options: Any) -> None:
        if hours < 24:
            raise CommandError("--hours below 24 breaks the contract's 24-hour promise.")
        deleted = purge_idempotency_records(older_than=timedelta(hours=hours))
        self.stdout.write(f"purged {deleted} idempotency key(s) older than {hours} h")
