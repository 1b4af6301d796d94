"""Request ids, the JSON access log (no secrets) and the Prometheus metrics."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import select
import sys

import pytest
from django.test import override_settings

from config.logs import JsonFormatter, LoopBatchedStreamHandler
from tests.factories import amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_request_id_is_echoed_or_made(api, redeem):
    given = await api.get("/healthz", headers={"X-Request-ID": "checkout-7f3a"})
    assert given.headers["x-request-id"] == "checkout-7f3a"

    made = await api.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])

    hostile = await api.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])

    problem = await api.get("/v1/nowhere/", headers=redeem)
    assert problem.headers["x-request-id"]


async def test_each_request_is_one_json_access_line_without_the_key(
    api, redeem, redeem_key, caplog
):
    await amake_coupon("LOGGED", init_count=2)
    with caplog.at_level(logging.INFO, logger="coupons.access"):
        response = await api.post(
            "/v1/redemptions/?x=1",
            json={"code": "LOGGED"},
            headers={**redeem, "X-Request-ID": "req-1"},
        )
    assert response.status_code == 201
    [record] = [r for r in caplog.records if r.name == "coupons.access"]
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["method"] == "POST"
    assert entry["path"] == "/v1/redemptions/"
    assert entry["route"] == "/v1/redemptions/"
    assert entry["status"] == 201
    assert entry["request_id"] == "req-1"
    assert entry["duration_ms"] >= 0
    assert entry["api_key"] == "test-redeem"
    assert redeem_key not in line and redeem_key[:12] not in line


def test_a_log_line_has_time_level_logger_message_and_the_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("coupons.test").makeRecord(
            "coupons.test", logging.ERROR, __file__, 1, "failed %s", ("once",),
            sys.exc_info(), extra={"request_id": "req-9"},
        )  # fmt: skip
    record.created = 1_700_000_000.25

    entry = json.loads(JsonFormatter().format(record))

    assert list(entry)[:4] == ["ts", "level", "logger", "message"]
    assert entry["ts"] == "2023-11-14T22:13:20.250+00:00"
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "ERROR", "coupons.test", "failed once",
    )  # fmt: skip
    assert entry["request_id"] == "req-9"
    assert entry["exception"].startswith("Traceback") and "ValueError: boom" in entry["exception"]


async def test_metrics_are_not_public_by_default(api):
    assert_problem(await api.get("/metrics"), 404, "not_found")


@override_settings(METRICS_TOKEN="scrape-me")
async def test_metrics_count_requests_and_redemption_outcomes(api, redeem):
    await amake_coupon("METRIC", init_count=1)
    await api.post("/v1/redemptions/", json={"code": "METRIC"}, headers=redeem)
    await api.post("/v1/redemptions/", json={"code": "METRIC"}, headers=redeem)

    assert_problem(
        await api.get("/metrics", headers={"Authorization": "Bearer wrong"}), 404, "not_found"
    )
    response = await api.get("/metrics", headers={"Authorization": "Bearer scrape-me"})

    assert response.status_code == 200
    text = response.text
    assert 'coupon_redemptions_total{outcome="redeemed"}' in text
    assert 'coupon_redemptions_total{outcome="coupon_exhausted"}' in text
    assert re.search(
        r'coupon_http_requests_total\{method="POST",route="/v1/redemptions/",status="201"\} '
        r"[1-9]",
        text,
    )
    assert "coupon_http_request_duration_seconds_bucket" in text
    assert "coupon_db_pool_connections" in text


@override_settings(METRICS_TOKEN="scrape-me")
async def test_the_metrics_token_is_checked_whole_whatever_the_guess(api):
    # Same length as "Bearer scrape-me": a compare that stops at the first wrong character
    # would answer this one measurably faster; compare_digest answers both alike.
    for guess in ["Bearer scrape-mX", "Bearer Xcrape-me"]:
        assert_problem(
            await api.get("/metrics", headers={"Authorization": guess}), 404, "not_found"
        )
    # Non-ASCII bytes (decoded as latin-1): a 404 too, not compare_digest's TypeError.
    hostile = {"Authorization": "Bearer scrapé-me".encode("latin-1")}
    assert_problem(await api.get("/metrics", headers=hostile), 404, "not_found")

    right = await api.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert right.status_code == 200
    assert "coupon_http_requests_total" in right.text


class RecordingStream(io.StringIO):
    """Remembers each text written to it, one entry a write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_lines_logged_in_an_event_loop_are_written_together_on_its_next_turn():
    stream = RecordingStream()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("coupons.test.batched")
    logger.addHandler(handler)
    logger.propagate = False

    async def three_lines_then_a_turn() -> tuple[str, str]:
        for n in range(3):
            logger.warning("line %s", n)
        before = stream.getvalue()
        await asyncio.sleep(0)
        return before, stream.getvalue()

    try:
        before, after = asyncio.run(three_lines_then_a_turn())
        logger.warning("from no loop")  # written at once
    finally:
        logger.removeHandler(handler)

    assert before == ""
    assert [json.loads(line)["message"] for line in after.splitlines()] == [
        "line 0", "line 1", "line 2",
    ]  # fmt: skip
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "from no loop"
    assert len(stream.writes) == 2


def test_flush_writes_the_lines_a_turn_has_not_written_yet():
    stream = io.StringIO()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(JsonFormatter())

    async def log_then_flush() -> tuple[str, str]:
        handler.handle(logging.makeLogRecord({"name": "coupons.test", "msg": "last"}))
        pending = stream.getvalue()
        handler.flush()  # as logging.shutdown does at exit, when no turn is left
        return pending, stream.getvalue()

    pending, flushed = asyncio.run(log_then_flush())

    assert pending == ""
    assert json.loads(flushed)["message"] == "last"


def test_a_line_left_by_a_loop_that_closed_is_written_on_the_next_loops_turn():
    stream = io.StringIO()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(JsonFormatter())

    def record(message: str) -> logging.LogRecord:
        return logging.makeLogRecord({"name": "coupons.test", "msg": message})

    closed = asyncio.new_event_loop()

    def log_and_stop() -> None:
        handler.handle(record("left"))
        closed.stop()  # before the turn that would write it

    closed.call_soon(log_and_stop)
    closed.run_forever()
    closed.close()

    async def log_and_turn() -> None:
        handler.handle(record("next"))
        await asyncio.sleep(0)

    asyncio.run(log_and_turn())

    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "left", "next",
    ]  # fmt: skip


def test_a_turns_lines_are_written_whole_in_writes_no_longer_than_pipe_buf():
    stream = RecordingStream()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(JsonFormatter())

    async def many_lines() -> None:
        for n in range(100):
            handler.handle(logging.makeLogRecord({"name": "coupons.test", "msg": f"{n:0200d}"}))
        await asyncio.sleep(0)

    asyncio.run(many_lines())

    assert len(stream.writes) > 1
    assert all(len(t.encode()) <= select.PIPE_BUF and t.endswith("\n") for t in stream.writes)
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages == [f"{n:0200d}" for n in range(100)]


def test_a_log_line_is_ascii_whatever_the_request_held():
    record = logging.makeLogRecord(
        {"name": "coupons.access", "msg": "GET /v1/coupons/a\u2028b\x85c\u00e9", "path": "\u2028"}
    )

    line = JsonFormatter().format(record)

    assert line.isascii() and len(line.splitlines()) == 1
    assert json.loads(line)["message"] == "GET /v1/coupons/a\u2028b\x85c\u00e9"
    assert json.loads(line)["path"] == "\u2028"
