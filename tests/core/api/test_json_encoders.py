"""orjson (API_ORJSON, the default) and the standard library write the same answers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from core.api import http

ANSWER = {
    "id": uuid.UUID("6f1c0c1e-8a47-4c43-9d8f-0a6b7f3e2b11"),
    "code": "SPRING",
    "init_count": 1_000_000_000,
    "is_active": True,
    "starts_at": None,
    "created_at": datetime(2026, 11, 25, 14, 0, 0, 123456, tzinfo=UTC),
    # A timestamp parsed with an offset is still written in UTC with a "Z".
    "expires_at": datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))),
    "discount": {"percent_off": Decimal("12.50"), "amount_off": None, "max": Decimal("5000")},
    "metadata": {"note": "café ☕", "campaign": "spring-26"},
    "results": [{"n": 1}, {"n": 2.5}],
}


@pytest.mark.parametrize("encoder", [http.orjson_bytes, http.stdlib_json_bytes])
def test_both_encoders_write_the_same_json(encoder):
    written = encoder(ANSWER)
    assert json.loads(written) == {
        **ANSWER,
        "id": "6f1c0c1e-8a47-4c43-9d8f-0a6b7f3e2b11",
        "created_at": "2026-11-25T14:00:00.123456Z",
        "expires_at": "2026-12-01T07:30:00Z",
        "discount": {"percent_off": 12.5, "amount_off": None, "max": 5000},
    }
    assert b'"max":5000}' in written  # an integral Decimal is an integer, not 5000.0


def test_api_orjson_picks_the_encoder(settings):
    chosen = http.orjson_bytes if settings.API_ORJSON else http.stdlib_json_bytes
    assert http.to_json_bytes is chosen


def test_what_neither_encoder_can_write_is_refused_the_same_way():
    for encoder in (http.orjson_bytes, http.stdlib_json_bytes):
        with pytest.raises(TypeError, match="object is not JSON serialisable"):
            encoder({"a": object()})
        with pytest.raises(ValueError, match="NaN is not a JSON number"):
            encoder({"a": Decimal("NaN")})


def test_a_lone_surrogate_falls_back_to_the_stdlib_escape():
    assert http.orjson_bytes({"a": "\ud800"}) == b'{"a":"\\ud800"}'
