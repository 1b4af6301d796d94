"""Input an attacker or a careless client sends (issue 13): Unicode digits, tampered cursors,
deep JSON, floods of parameters. Each is a 4xx problem or a correct answer, never a 5xx."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

LISTS = ["/v1/coupons/", "/v1/redemptions/", "/v1/coupons/{coupon_id}/redemptions/"]

# Digits that str.isdigit() or int() accept and that are not ASCII: superscript two,
# Arabic-Indic three, full-width three, Devanagari three.
UNICODE_DIGITS = ["\u00b2", "\u0663", "\uff13", "\u0969"]


async def list_paths() -> list[str]:
    coupon = await amake_coupon()
    return [path.format(coupon_id=coupon.id) for path in LISTS]


@pytest.mark.parametrize(
    "page_size",
    [*UNICODE_DIGITS, "1²", "9" * 5000, "0", "501", "-1", "+5", " 5", "5 ", "1_0", "5.0", ""],
)
async def test_a_page_size_of_anything_but_ascii_digits_in_range_is_400(api, manage, page_size):
    for path in await list_paths():
        response = await api.get(path, params={"page_size": page_size}, headers=manage)
        problem = assert_problem(response, 400, "validation_error")
        assert "page_size" in problem["errors"]


async def test_a_page_size_in_ascii_digits_is_read(api, manage):
    for path in await list_paths():
        response = await api.get(path, params={"page_size": "007"}, headers=manage)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
async def test_a_coupon_id_filter_spelled_in_unicode_digits_is_400(api, manage, digit):
    spelled = str(uuid.UUID(int=3)).replace("3", digit)
    response = await api.get("/v1/redemptions/", params={"coupon_id": spelled}, headers=manage)
    problem = assert_problem(response, 400, "validation_error")
    assert "coupon_id" in problem["errors"]


@pytest.mark.parametrize(
    "spelled",
    [
        "\u0660" * 32,  # 32 Arabic-Indic zeros: int(..., 16) reads them
        "0" * 32,  # the bare hex form: ids are written 8-4-4-4-12
        f"urn:uuid:{uuid.UUID(int=3)}",
        f"{{{uuid.UUID(int=3)}}}",
        str(uuid.UUID(int=3)).replace("-", "", 1),
        f"{uuid.UUID(int=3)} ",
    ],
)
@pytest.mark.parametrize(
    ("path", "field"),
    [("/v1/coupons/", "campaign_id"), ("/v1/redemptions/", "coupon_id")],
)
async def test_an_id_filter_not_written_8_4_4_4_12_in_ascii_hex_is_400(
    api, manage, path, field, spelled
):
    response = await api.get(path, params={field: spelled}, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]


@pytest.mark.parametrize("spelling", ["urn:uuid:{}", "{{{}}}"])
@pytest.mark.parametrize("path", ["/v1/coupons/", "/v1/coupons/batch/"])
async def test_a_campaign_id_in_a_body_not_written_8_4_4_4_12_is_400(api, manage, path, spelling):
    campaign = await api.post("/v1/campaigns/", json={"name": "Loose"}, headers=manage)
    spelled = spelling.format(campaign.json()["id"])
    body = {"code": "LOOSE", "count": 1, "length": 8, "init_count": 1, "campaign_id": spelled}
    if path == "/v1/coupons/":
        del body["count"], body["length"]
    else:
        del body["code"]

    response = await api.post(path, json=body, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert "campaign_id" in problem["errors"]


async def test_an_id_filter_in_any_letter_case_is_read(api, manage):
    for path, field in [("/v1/coupons/", "campaign_id"), ("/v1/redemptions/", "coupon_id")]:
        spelled = str(uuid.uuid4()).upper()
        response = await api.get(path, params={field: spelled}, headers=manage)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "moment",
    [
        "\u00b2026-01-01T00:00:00Z",  # superscript two: isdigit(), then int() failed (a 500)
        "\uff12\uff10\uff12\uff16-01-01T00:00:00Z",  # full-width
        "\u0662\u0660\u0662\u0666-01-01T00:00:00Z",  # Arabic-Indic
        "2026-01-01T\u0966\u0966:00:00Z",  # Devanagari hours
        "2026-01-01T00:00:00",  # no offset
        "2026-01-01T00:00Z",  # no seconds
        "2026-01-01",
        "20260101T000000Z",
        "2026-W01-1T00:00:00Z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00 Z",
        "2026-01-01T00:00:00Z\n",
        "2026-1-1T00:00:00Z",
        "2026-01-01T00:00:00+0100",
        "2026-01-01T00:00:00+24:00",
        "2026-13-01T00:00:00Z",
        "0999-01-01T00:00:00Z",
        # The years are counted in UTC, where the timestamp is stored and shown.
        "9899-12-31T23:59:59-23:59",  # 9900 in UTC
        "1970-01-01T00:00:00+23:59",  # 1969 in UTC
        "1970-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-23:59",  # past 9999 in UTC: no datetime at all
        "9900-01-01T00:00:00Z",
    ],
)
@pytest.mark.parametrize("field", ["starts_at", "expires_at"])
async def test_a_timestamp_that_is_not_ascii_rfc_3339_is_400(api, manage, moment, field):
    response = await api.post(
        "/v1/coupons/", json={"code": "WHEN", "init_count": 1, field: moment}, headers=manage
    )
    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]


@pytest.mark.parametrize(
    ("moment", "stored"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01t00:00:00z", "2026-01-01T00:00:00Z"),  # RFC 3339 allows either case
        ("2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00.123456Z"),
        ("2026-01-01T01:30:00+01:30", "2026-01-01T00:00:00Z"),
        ("2026-01-01T23:59:00+23:59", "2026-01-01T00:00:00Z"),  # past PostgreSQL's +15:59
        ("9900-01-01T00:00:00+23:59", "9899-12-31T00:01:00Z"),  # in range in UTC
        ("1969-12-31T23:59:00-00:01", "1970-01-01T00:00:00Z"),
        ("9899-12-31T23:59:59Z", "9899-12-31T23:59:59Z"),
    ],
)
async def test_an_ascii_rfc_3339_timestamp_is_read_and_returned_in_utc(api, manage, moment, stored):
    response = await api.post(
        "/v1/coupons/", json={"code": "WHEN", "init_count": 1, "starts_at": moment}, headers=manage
    )
    assert response.status_code == 201, response.text
    assert response.json()["starts_at"] == stored


def unsigned_cursor(value: object) -> str:
    """A cursor as they were made before they were signed: base64 of a JSON array."""
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


TAMPERED_CURSORS = [
    unsigned_cursor(["2026-01-01T00:00:00+00:00", 123, "n"]),
    unsigned_cursor(["2026-01-01T00:00:00+00:00", 1.5, "n"]),
    unsigned_cursor(["2026-01-01T00:00:00+00:00", True, "n"]),
    unsigned_cursor(["2026-01-01T00:00:00+00:00", [], "n"]),
    unsigned_cursor(["2026-01-01T00:00:00+00:00", {}, "n"]),
    unsigned_cursor(
        ["2026-01-01T00:00:00+16:00", str(uuid.UUID(int=7)), "n"]
    ),  # PostgreSQL's DataError
    unsigned_cursor(
        ["2026-01-01T00:00:00+00:00", str(uuid.UUID(int=7)), "n"]
    ),  # well-formed, unsigned
    unsigned_cursor([]),
    unsigned_cursor("x"),
    base64.urlsafe_b64encode(deep_json(5000).encode()).decode(),  # RecursionError
    "garbage",
    "\u0663",
    "a:b:c",
]


@pytest.mark.parametrize("cursor", TAMPERED_CURSORS)
async def test_a_tampered_or_made_up_cursor_is_400(api, manage, cursor):
    for path in await list_paths():
        response = await api.get(path, params={"cursor": cursor}, headers=manage)
        problem = assert_problem(response, 400, "validation_error")
        assert "cursor" in problem["errors"]


@pytest.mark.parametrize("path", ["/v1/events/", "/v1/campaigns/", "/v1/webhook-endpoints/"])
async def test_an_empty_cursor_is_400(api, manage, path):
    for where in [*await list_paths(), path]:
        response = await api.get(where, params={"cursor": ""}, headers=manage)
        problem = assert_problem(response, 400, "validation_error")
        assert "cursor" in problem["errors"]


async def test_a_cursor_is_taken_only_by_the_list_that_made_it(api, manage):
    coupon = await amake_coupon("PAGE-A")
    await amake_coupon("PAGE-B")
    first = await api.get("/v1/coupons/", params={"page_size": 1}, headers=manage)
    token = parse_qs(urlsplit(first.json()["next"]).query)["cursor"][0]
    assert (await api.get("/v1/coupons/", params={"cursor": token}, headers=manage)).is_success

    for path in [
        "/v1/campaigns/", "/v1/redemptions/", f"/v1/coupons/{coupon.id}/redemptions/",
        "/v1/webhook-endpoints/", "/v1/events/",
    ]:  # fmt: skip
        response = await api.get(path, params={"cursor": token}, headers=manage)
        problem = assert_problem(response, 400, "validation_error")
        assert "cursor" in problem["errors"]


async def test_a_cursor_changed_by_one_character_is_400(api, manage):
    for n in range(3):
        await amake_coupon(f"PAGE-{n}")
    first = await api.get("/v1/coupons/", params={"page_size": 1}, headers=manage)
    token = parse_qs(urlsplit(first.json()["next"]).query)["cursor"][0]
    assert (await api.get("/v1/coupons/", params={"cursor": token}, headers=manage)).is_success

    for at in (0, len(token) // 2, len(token) - 1):
        changed = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
        response = await api.get("/v1/coupons/", params={"cursor": changed}, headers=manage)
        assert_problem(response, 400, "validation_error")


@pytest.mark.parametrize("depth", [129, 1000, 1489, 1495, 5000, 100_000])
@pytest.mark.parametrize("where", ["unknown field", "code"])
@pytest.mark.parametrize("path", ["/v1/coupons/", "/v1/redemptions/", "/v1/validations/"])
async def test_json_nested_deeper_than_128_levels_is_malformed_json(
    api, manage, depth, where, path
):
    nested = deep_json(depth - 1)  # the body's own object is a level too
    body = f'{{"code": "DEEP", "init_count": 1, "extra": {nested}}}'
    if where == "code":
        body = f'{{"code": {nested}, "init_count": 1}}'
    headers = {**manage, "Content-Type": "application/json", "Idempotency-Key": f"deep-{depth}"}

    response = await api.post(path, content=body.encode(), headers=headers)

    assert_problem(response, 400, "malformed_json")


async def test_json_nested_128_levels_deep_is_read(api, manage):
    body = f'{{"code": "DEEP", "init_count": 1, "extra": {deep_json(127)}}}'
    headers = {**manage, "Content-Type": "application/json"}
    response = await api.post("/v1/coupons/", content=body.encode(), headers=headers)
    # Parsed whole: the answer is about the field (bodies refuse unknown fields), not the JSON.
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"] == {"extra": ["Unknown field."]}


LONE_SURROGATE_BODIES = [
    '{"code": "X", "extra": "\\ud800"}'.encode("utf-16"),  # the finding: UTF-16 with its BOM
    '{"code": "X", "extra": "\\ud800"}'.encode("utf-16-le"),
    '{"code": "X", "extra": "\\udc00"}'.encode("utf-16-be"),
    '{"code": "X", "\\ud800": 1}'.encode("utf-32"),
    b'{"code": "X", "extra": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes, no escape
    '{"code": "X", "extra": "'.encode("utf-16-le") + b"\x00\xd8" + '"}'.encode("utf-16-le"),
]


@pytest.mark.parametrize(
    "body",
    LONE_SURROGATE_BODIES,
    ids=["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-bytes", "utf-16-le-unit"],
)
@pytest.mark.parametrize("path", ["/v1/redemptions/", "/v1/validations/", "/v1/coupons/"])
async def test_a_lone_surrogate_in_any_encoding_is_malformed_json(api, manage, body, path):
    headers = {**manage, "Content-Type": "application/json", "Idempotency-Key": "surrogate"}
    response = await api.post(path, content=body, headers=headers)
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32-le"])
async def test_a_json_body_in_a_unicode_encoding_is_read(api, manage, encoding):
    body = '{"code": "ENC", "customer_id": "c-\\ud83d\\ude00 \u00e9"}'.encode(encoding)
    headers = {**manage, "Content-Type": "application/json", "Idempotency-Key": encoding}
    response = await api.post("/v1/redemptions/", content=body, headers=headers)
    assert_problem(response, 404, "coupon_not_found")


@pytest.mark.parametrize("count", [1001, 5000])
async def test_more_than_a_thousand_query_parameters_is_400(api, manage, count):
    query = "&".join(f"p{n}=1" for n in range(count))
    for path in [*(await list_paths()), "/v1/schema/"]:
        response = await api.get(f"{path}?{query}", headers=manage)
        problem = assert_problem(response, 400, "bad_request")
        assert "1000" in problem["detail"] or "1,000" in problem["detail"]


async def test_a_thousand_query_parameters_are_read_and_refused_by_name(api, manage):
    query = "&".join(f"p{n}=1" for n in range(1000))
    response = await api.get(f"/v1/coupons/?{query}", headers=manage)
    problem = assert_problem(response, 400, "validation_error")
    assert "p999" in problem["errors"]


@pytest.mark.parametrize(
    "query",
    [
        "version=a%0d%0ab",
        "version=%00",
        "version=%22%3B%20filename%3D%22evil.html",
        "version=" + "v" * 5000,
        "lang=%00",
        "lang=a%0d%0ab",
        "lang=" + "x" * 5000,
        "lang=../../../etc",
        "format=%00",
    ],
)
async def test_the_schema_download_never_copies_the_query_into_its_headers(api, query):
    response = await api.get(f"/v1/schema/?{query}")

    assert response.status_code in (200, 400, 404), response.text[:300]  # 404: unknown format
    disposition = response.headers.get("content-disposition", "")
    assert disposition in ("", 'inline; filename="Coupon service.json"')
    if response.status_code == 200:
        assert response.json()["openapi"].startswith("3.")


@pytest.mark.parametrize("query", ["foo=1", "coupon_id=x", "page_size=1&page_size=2"])
async def test_every_list_refuses_unknown_or_repeated_parameters(api, manage, query):
    for path in await list_paths():
        response = await api.get(f"{path}?{query}", headers=manage)
        problem = assert_problem(response, 400, "validation_error")
        assert set(problem["errors"]) <= {"foo", "coupon_id", "page_size"}, problem
