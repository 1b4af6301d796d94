"""The load test's own harness (bench/run.py): a server that cannot start says why."""

from __future__ import annotations

import time

import pytest

from bench import run


def test_a_server_that_fails_to_start_is_reported_with_its_log_at_once():
    started = time.monotonic()
    with pytest.raises(SystemExit) as failure:
        run.start("bench.no_such_module:app", key="unused")

    message = str(failure.value)
    assert "did not start" in message
    assert "no_such_module" in message  # uvicorn's import error, from the server's log
    assert time.monotonic() - started < 10  # not the full 15 s of polling a dead process
