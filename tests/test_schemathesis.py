"""Schemathesis against a live server and its own OpenAPI document: for every operation,
generated requests (valid and invalid) never get a 5xx, and every answer matches the
schema (status, content type, headers, body). Then the fuzz stage: schemathesis' own CLI
runs its coverage phase (boundary and invalid values of every parameter, unknown methods)
and its stateful phase (chains along the schema's links: create, redeem, revert, list...)
for a bounded time, failing on any 5xx. Bounded examples and time keep CI fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from access.services import api_keys
from coupons.domain.discounts import DISCOUNT_FIELDS, discount_problems
from coupons.services import campaigns, redemptions
from coupons.services import coupons as coupon_service
from tests.servers import Server, running_servers

# django_db (no transaction): makes pytest-django create the test database that the server
# uses; the rows this module makes are committed by its fixtures and flushed at its end.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Cases per operation and mode: 20 keeps `make test` under 10 minutes on the 2-core CI
# machine (30 took about 40 s more). A longer soak: SCHEMA_EXAMPLES=100 FUZZ_SECONDS=900
# make test.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMA_EXAMPLES", "20"))
# The campaign that generated codes join (made by the `bearer` fixture).
CAMPAIGN_ID: list[str] = [""]


@pytest.fixture(scope="module")
def server(
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    # The contract's own throttle would turn most random codes into 429s after a few;
    # raise it so that the other answers are explored too (429 stays in the schema).
    with running_servers(
        1,
        tmp_path_factory.mktemp("schemathesis"),
        THROTTLE_UNKNOWN_CODES_PER_CUSTOMER="100000",
        THROTTLE_UNKNOWN_CODES_PER_API_KEY="100000",
    ) as servers:
        yield servers[0]
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def bearer(server: Server, django_db_blocker: Any) -> dict[str, str]:
    with django_db_blocker.unblock():
        _, key = api_keys.create_api_key(name="schemathesis", scope="manage")
        # Something real to find, edit, redeem and revert.
        coupon_service.create_coupon(code="SCHEMA-1", init_count=1000)
        redemptions.redeem_coupon(code="SCHEMA-1")
        CAMPAIGN_ID[0] = str(campaigns.create_campaign(name="SCHEMA-CAMPAIGN").id)
    return {"Authorization": f"Bearer {key}"}


def make_stateless(case: Any) -> None:
    """Rules a schema cannot state, applied to schema-valid cases so that a 400 or 422 for
    them is not mistaken for a rejected valid request:

    - a cursor is an opaque token from a `next`/`previous` link; a made-up one is a 400;
    - `starts_at` must come before `expires_at`;
    - an Idempotency-Key reused with another request is a 422 by contract, so each case
      gets a fresh key (hypothesis reuses generated values across cases);
    - a batch's prefix + length is at most 64 characters;
    - a redemption of a coupon that an earlier case created with a per-customer limit
      needs a customer_id (400 customer_id_required), so one is always sent; one with a
      discount needs an order (400 order_required), so one is always sent too;
    - a discount's fields depend on each other (exactly one of percent_off and amount_off,
      a currency with an amount), and a percentage has at most two decimals (a generated
      float may carry binary noise): a discount breaking these becomes a valid one;
    - metadata keys are 1 to 40 characters without NUL (OpenAPI 3.0 has no
      propertyNames), values have no NUL, and at most 50 keys may be set;
    - a code's `campaign_id` names a campaign that exists (a made-up one is a 400), and a
      code of a campaign has no discount of its own;
    - a campaign's budget is in its discount's currency;
    - a report's `from` comes before its `to` (default now) by at most 366 days;
    - an export names exactly one of coupon_id and campaign_id;
    - an import's body is a CSV file of good rows (a made-up string is no such file), for
      a campaign that exists;
    - an order's lines have ids unique within it, each line's total and their sum stay
      within 100,000,000,000, and an amount sent with lines is their sum (left out here);
    - several codes on one order are distinct ignoring case (the schema says distinct).
    """
    if case.query:
        case.query.pop("cursor", None)
    if case.path.endswith("/report/") and case.query:
        keep_report_range(case.query)
    if case.path == "/v1/redemptions/export/":
        query = case.query or {}
        if len({"coupon_id", "campaign_id"} & set(query)) != 1:
            case.query = {"campaign_id": CAMPAIGN_ID[0]}
    if case.path == "/v1/coupons/import/":
        case.body = f"code,init_count\nSCHEMA-IMPORT-{uuid.uuid4().hex[:12]},1\n"
        if case.query and "campaign_id" in case.query:
            case.query["campaign_id"] = CAMPAIGN_ID[0]
    body = case.body if isinstance(case.body, dict) else {}
    if isinstance(body.get("discount"), dict):
        body["discount"] = valid_discount(body["discount"])
    if isinstance(body.get("metadata"), dict):
        body["metadata"] = valid_metadata(body["metadata"])
    if isinstance(body.get("order"), dict):
        valid_order(body["order"])
    if isinstance(body.get("codes"), list):
        body["codes"] = distinct_ignoring_case(body["codes"])
    starts, expires = body.get("starts_at"), body.get("expires_at")
    if isinstance(starts, str) and isinstance(expires, str):
        from datetime import datetime

        if datetime.fromisoformat(starts) >= datetime.fromisoformat(expires):
            del body["expires_at"]
    if body.get("campaign_id") is not None and case.path.startswith("/v1/coupons/"):
        body["campaign_id"] = CAMPAIGN_ID[0]
        body.pop("discount", None)
    budget, discount = body.get("budget"), body.get("discount")
    if isinstance(budget, dict) and case.path.startswith("/v1/campaigns/"):
        if isinstance(discount, dict) and isinstance(discount.get("currency"), str):
            budget["currency"] = discount["currency"]
        else:
            body["discount"] = {"percent_off": 10, "currency": budget.get("currency", "EUR")}
    prefix, length = body.get("prefix"), body.get("length")
    if isinstance(prefix, str) and isinstance(length, int) and len(prefix) + length > 64:
        body["prefix"] = prefix[: max(0, 64 - length)]  # prefix + length is at most 64
    if "url" in body and case.path.startswith("/v1/webhook-endpoints/"):
        # The schema cannot say "https to a public host" (the SSRF guard resolves it): a
        # literal public address, so no DNS is asked either.
        body["url"] = "https://93.184.216.34/hook"
    is_redemption = case.method == "POST" and case.path == "/v1/redemptions/"
    if is_redemption and not isinstance(body.get("customer_id"), str):
        body["customer_id"] = "schemathesis"
    if is_redemption and not isinstance(body.get("order"), dict):
        body["order"] = {"amount": 10_000, "currency": "EUR"}
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = f"schemathesis-{uuid.uuid4()}"


def keep_report_range(query: dict[str, Any]) -> None:
    """Drops `from` and `to` unless they make a range the report takes."""
    from datetime import UTC, datetime, timedelta

    try:
        end = datetime.fromisoformat(query["to"]) if "to" in query else datetime.now(UTC)
        start = datetime.fromisoformat(query["from"]) if "from" in query else None
        fits = start is None or timedelta(0) < end - start <= timedelta(days=366)
    except (TypeError, ValueError, OverflowError):
        fits = False
    if not fits:
        query.pop("from", None)
        query.pop("to", None)


def valid_discount(discount: dict[str, Any]) -> dict[str, Any]:
    percent = discount.get("percent_off")
    if isinstance(percent, float):
        discount["percent_off"] = Decimal(repr(percent)).quantize(Decimal("0.01"))
    values = {name: discount.get(name) for name in DISCOUNT_FIELDS}
    if set(discount) - set(DISCOUNT_FIELDS) or discount_problems(**values):
        return {"percent_off": 10}
    if isinstance(discount.get("percent_off"), Decimal):
        discount["percent_off"] = float(discount["percent_off"])
    return discount


def distinct_ignoring_case(codes: list[Any]) -> list[Any]:
    seen: set[str] = set()
    kept = []
    for code in codes:
        if isinstance(code, str):
            if code.upper() in seen:
                continue
            seen.add(code.upper())
        kept.append(code)
    return kept


def valid_order(order: dict[str, Any]) -> None:
    lines = order.get("lines")
    if not isinstance(lines, list) or not lines:
        return
    for number, line in enumerate(lines):
        if isinstance(line, dict):
            line["id"] = f"line-{number}"
            # 500 lines of at most 1,000 units of at most 100,000: within the bound.
            if isinstance(line.get("quantity"), int):
                line["quantity"] = min(line["quantity"], 1_000)
            if isinstance(line.get("unit_amount"), int):
                line["unit_amount"] = min(line["unit_amount"], 100_000)
    order.pop("amount", None)


def valid_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    kept = {
        key: value
        for key, value in metadata.items()
        if 1 <= len(key) <= 40 and "\x00" not in key
        and not (isinstance(value, str) and "\x00" in value)
    }  # fmt: skip
    return dict(list(kept.items())[:50])


def check_operation(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def conforms(case: Any) -> None:
        if mode is GenerationMode.POSITIVE:
            make_stateless(case)
        case.call_and_validate(base_url=base_url, headers=headers)

    conforms()


def test_the_live_api_matches_its_own_schema(server: Server, bearer: dict[str, str]) -> None:
    # One test walking every operation: schemathesis' lazy pytest fixture loader does not
    # work under pytest 9, and the schema only exists once the server runs.
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/schema/")
    # Every case carries our bearer key: a case that "negates" the security scheme by
    # leaving Authorization out would get it back and be judged wrongly. 401s are tested in
    # tests/access/test_authentication.py.
    schema.config.generation.update(with_security_parameters=False)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the schema has an invalid operation: {result.err()}")
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                check_operation(operation, mode, server.url, bearer)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # no parameters or body to break
            except (Exception, BaseExceptionGroup) as exc:
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:1500]
    assert operations >= 19
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


# Seconds for the coverage phase (~5 s here) and the stateful phase, which repeats until the
# time is spent: ~750 chained scenarios in 45 s on the 2-core CI machine, which keeps
# `make test` under 10 minutes. A longer soak: FUZZ_SECONDS=900 make test.
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "45"))


def test_the_coverage_and_stateful_phases_get_no_server_error(
    server: Server, bearer: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{server.url}/v1/schema/",
        "--header", f"Authorization: {bearer['Authorization']}",
        "--phases", "coverage,stateful", "--checks", "not_a_server_error",
        "--max-time", str(FUZZ_SECONDS), "--workers", "2", "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    result = subprocess.run(  # in tmp_path: the CLI keeps a cache in its working directory
        command, capture_output=True, text=True, timeout=FUZZ_SECONDS + 180, cwd=tmp_path
    )

    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    summary = json.loads(report.read_text())
    assert summary["failures"] == [] and summary["errors"] == []
    assert {summary["phases"][p]["status"] for p in ("coverage", "stateful")} == {"success"}
    assert summary["operations"]["tested"] >= 14
    assert summary["test_cases"]["generated"] >= 500, summary["test_cases"]
    # The server's own account: no access line with a 5xx, whoever sent it.
    assert [line for line in server.access_lines() if line["status"] >= 500] == []


def test_the_server_logged_no_tracebacks(server: Server) -> None:
    log = server.log.read_text()
    assert "Traceback" not in log, log[-4000:]
