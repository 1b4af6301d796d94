"""`manage.py create_api_key NAME --scope manage|redeem`: the plain key is the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from access.models import ApiKeyScope
from access.services.api_keys import create_api_key


class Command(BaseCommand):
    help = "Create an API key and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who the key is for, e.g. 'checkout-service'.")
        parser.add_argument("--scope", choices=ApiKeyScope.values, default=ApiKeyScope.REDEEM)

    def handle(self, *args: Any, **options: Any) -> None:
        api_key, plain_key = create_api_key(name=options["name"], scope=options["scope"])
        self.stderr.write(
            f"Created API key {api_key.name!r} with scope {api_key.scope} (id {api_key.id}). "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(plain_key)
