"""A client generated from the live server's own document (`GET /v1/schema/`) with
openapi-python-client, as a shop's developer would make one, driven through every operation
against a live server (tests/client/scenario.py): the generator must read the document
without a warning, every answer must parse into its model in full, every refusal into
`Problem`, and every operation of the document must be called."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from django.core.management import call_command

from access.services import api_keys
from tests.client.harness import Api, Recorder
from tests.client.scenario import STEPS
from tests.servers import Server, running_servers

# django_db (no transaction): makes pytest-django create the test database that the server
# uses; the rows the scenario makes are committed by the server and flushed at the end.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

HERE = Path(__file__).resolve().parent
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# Unknown codes one customer may look up before 429 (the scenario's last step passes it).
GUESSES = 5
PACKAGE = "coupon_service_client"
# Statuses a client can provoke, each of which must come back as a parsed Problem. Not
# here: 500 (a bug) and 503 (the database down; tests/reliability stops one).
REFUSALS = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429}


@pytest.fixture(scope="module")
def server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with running_servers(
        1,
        tmp_path_factory.mktemp("generated-client"),
        THROTTLE_UNKNOWN_CODES_PER_CUSTOMER=str(GUESSES),
    ) as servers:
        yield servers[0]
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/v1/schema/?format=json", timeout=30)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.fixture(scope="module")
def generated(
    document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ModuleType, str]]:
    """The client package, generated afresh from the server's document (nothing cached),
    and the generator's output."""
    where = tmp_path_factory.mktemp("client")
    (where / "openapi.json").write_text(json.dumps(document))
    command = [
        str(GENERATOR), "generate", "--path", str(where / "openapi.json"),
        "--config", str(HERE / "generator.yaml"), "--meta", "none",
        "--output-path", str(where / PACKAGE), "--fail-on-warning",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=where)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def scenario(
    server: Server,
    document: dict[str, Any],
    generated: tuple[ModuleType, str],
    django_db_blocker: Any,
) -> Api:
    """Every step of the scenario, in order, through the generated client."""
    with django_db_blocker.unblock():
        keys = {
            scope: api_keys.create_api_key(name=f"generated-client-{scope}", scope=scope)[1]
            for scope in ("manage", "redeem")
        }
    api = Api.connect(generated[0], server.url, Recorder(document), **keys)
    api.state.update(run=uuid.uuid4().hex[:6].upper(), guesses=GUESSES)
    started = time.monotonic()
    for step in STEPS:
        step(api)
    api.state["seconds"] = time.monotonic() - started
    return api


def test_the_generator_reads_the_document_without_a_warning(generated):
    _package, output = generated
    assert "Warning" not in output and "WARNING" not in output, output


def test_the_scenario_runs_every_step_and_the_server_logs_no_error(scenario, server):
    assert scenario.state["seconds"] < 30, scenario.state["seconds"]
    log = server.log.read_text()
    assert "Traceback" not in log, log[-4000:]


def test_every_operation_of_the_document_is_called(scenario, document):
    """A route added to the document without a step in the scenario fails here."""
    operations = {
        operation["operationId"]
        for methods in document["paths"].values()
        for operation in methods.values()
    }
    never_called = operations - set(scenario.recorder.answered)
    assert not never_called, f"add steps to tests/client/scenario.py for {sorted(never_called)}"


def test_every_refusal_a_client_can_provoke_is_read_as_a_problem(scenario):
    assert scenario.problems >= REFUSALS, REFUSALS - scenario.problems


def test_every_success_the_document_declares_was_answered_and_checked(scenario, document):
    """Each operation's success statuses were seen, so their headers were checked both ways
    (harness.Recorder): a 201's Location is sent where declared (not by a batch or an import,
    which create many coupons) and declared where sent."""
    unseen = {
        (operation["operationId"], status)
        for methods in document["paths"].values()
        for operation in methods.values()
        for status in operation["responses"]
        if status.startswith("2")
        and int(status) not in scenario.recorder.answered[operation["operationId"]]
    }
    assert not unseen, sorted(unseen)
