"""`migrate` on a database made by the code before the apps were split (commit c10ec2f, one
`coupons` app) keeps every row: the moved models keep their tables, and their content types
(staff's permissions) move with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
BEFORE_THE_SPLIT = "c10ec2f"  # main before the apps were split (issue 23)

# Made with the old code: a key, a coupon redeemed with it (an event), an endpoint.
SEED = """
from django.utils import timezone
from coupons.models import WebhookEndpoint
from coupons.services import api_keys, coupons, redemptions
key, _ = api_keys.create_api_key(name="old", scope="manage")
coupons.create_coupon(code="OLD-1", init_count=2)
redemptions.redeem_coupon(code="OLD-1", api_key_id=key.pk)
WebhookEndpoint.objects.create(url="https://example.com/h", secret="s", created_at=timezone.now())
print(key.pk)
"""

# Read with the new code after `migrate`.
CHECK = """
import json
from django.contrib.contenttypes.models import ContentType
from access.models import ApiKey
from coupons.models import Coupon, Redemption
from events.models import Event
from webhooks.models import WebhookEndpoint
redemption = Redemption.objects.get()
print(json.dumps({
    "key": str(ApiKey.objects.get().pk),
    "redeemed_with": str(redemption.api_key_id),
    "remaining": Coupon.objects.get(code="OLD-1").remaining_count,
    "events": sorted(Event.objects.values_list("type", flat=True)),
    "endpoints": WebhookEndpoint.objects.count(),
    "apps": sorted({ct.app_label for ct in ContentType.objects.filter(
        model__in=["apikey", "event", "webhookendpoint"])}),
}))
"""


def run(cwd: Path, database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def last_line(output: str) -> str:
    """What the script printed last (the log may write lines before it)."""
    return output.strip().splitlines()[-1]


@pytest.fixture
def old_tree(tmp_path: Path) -> Path:
    """The project's files as they were before the split (from git history)."""
    archive = subprocess.run(
        ["git", "archive", BEFORE_THE_SPLIT], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tmp_path / "old", filter="data")
    return tmp_path / "old"


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database of its own on the test server (PostgreSQL), dropped afterwards."""
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("needs PostgreSQL")
    name = f"coupons_migrate_{uuid.uuid4().hex[:8]}"
    server = f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT']}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_migrate_on_a_database_from_before_the_split_keeps_every_row(
    old_tree: Path, empty_database: str
) -> None:
    run(old_tree, empty_database, "migrate", "--noinput")
    key_id = last_line(run(old_tree, empty_database, "shell", "-c", SEED))

    run(ROOT, empty_database, "migrate", "--noinput")
    after = json.loads(last_line(run(ROOT, empty_database, "shell", "-c", CHECK)))

    assert after["key"] == after["redeemed_with"] == key_id
    assert after["remaining"] == 1
    assert after["events"] == ["coupon.created", "redemption.created"]
    assert after["endpoints"] == 1
    assert after["apps"] == ["access", "events", "webhooks"]  # permissions move with them
    assert "[ ]" not in run(ROOT, empty_database, "showmigrations")  # nothing left to apply
