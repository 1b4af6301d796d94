"""The API lane (coupons/api/lane.py): it serves its routes as Django would, and leaves every
other request to Django.

Each request below goes once through the lane and once through Django's handler alone
(FastASGIHandler, what the lane passes requests on to), on the same database; the answers
must match, header for header, but for the lane's Content-Length."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

from coupons.api.fastpaths import FastASGIHandler
from coupons.api.lane import ApiLane
from coupons.models import Coupon
from tests.factories import amake_coupon

pytestmark = pytest.mark.django_db(transaction=True)

# What differs between two answers to the same request: the time, and how the body is framed.
UNCOMPARED = {"date", "content-length", "transfer-encoding"}


class CountingLane(ApiLane):
    """The lane, noting for each request whether it answered or passed it on to Django."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.served: list[bool] = []

    async def serve(self, *args: Any) -> bool:
        served = await super().serve(*args)
        self.served.append(served)
        return served


@pytest.fixture
def lane() -> CountingLane:
    return CountingLane(FastASGIHandler())


@pytest.fixture
async def clients(lane: CountingLane) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    base = "http://testserver"
    django_app: Any = FastASGIHandler()
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=lane), base_url=base) as via_lane,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=django_app), base_url=base
        ) as via_django,
    ):
        yield via_lane, via_django
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def _fast_paths_only() -> Iterator[None]:
    if not settings.API_FAST_PATHS:
        pytest.skip("the lane is part of API_FAST_PATHS")
    yield


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in UNCOMPARED}
    body = response.json() if response.content else None
    return response.status_code, headers, body


async def both(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], method: str, url: str, **kw: Any
) -> tuple[httpx.Response, httpx.Response]:
    via_lane, via_django = clients
    kw.setdefault("headers", {})["X-Request-ID"] = "same-id"
    return (
        await via_lane.request(method, url, **kw),
        await via_django.request(method, url, **kw),
    )


async def test_the_application_puts_the_lane_in_front_of_django() -> None:
    from config.asgi import application

    assert isinstance(application.app, ApiLane)
    assert isinstance(application.app.app, FastASGIHandler)


async def test_a_get_of_a_coupon_is_answered_as_django_answers_it(
    clients: Any, lane: CountingLane, manage: dict[str, str]
) -> None:
    coupon = await amake_coupon(code="LANE-GET", init_count=3)
    for url in (f"/v1/coupons/{coupon.id}/", "/v1/coupons/00000000-0000-4000-8000-000000000000/"):
        a, b = await both(clients, "GET", url, headers=dict(manage))
        assert comparable(a) == comparable(b)
        assert a.headers["content-length"] == str(len(a.content))
    assert lane.served == [True, True]
    assert a.status_code == 404 and a.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"code": "NEW", "init_count": 0}, "application/json"),  # validation_error
        ({"code": "LANE-DUP", "init_count": 5}, "application/json"),  # duplicate_code
        ({"code": "X", "init_count": 1, "surprise": 1}, "application/json"),  # unknown field
        ("{not json", "application/json"),  # malformed_json
        ({"code": "X", "init_count": 1}, "text/plain"),  # unsupported_media_type
    ],
)
async def test_refused_creates_are_the_same_problem(
    clients: Any, lane: CountingLane, manage: dict[str, str], body: Any, content_type: str
) -> None:
    await amake_coupon(code="LANE-DUP", init_count=1)
    content = body if isinstance(body, str) else json.dumps(body)
    headers = {**manage, "Content-Type": content_type}
    a, b = await both(clients, "POST", "/v1/coupons/", content=content, headers=headers)
    assert a.status_code >= 400
    assert comparable(a) == comparable(b)
    assert lane.served == [True]
    assert await Coupon.objects.filter(code="X").aexists() is False


async def test_a_create_through_the_lane_is_django_s_create(
    clients: Any, lane: CountingLane, manage: dict[str, str]
) -> None:
    a, b = await both(
        clients, "POST", "/v1/coupons/", json={"code": "LANE-A", "init_count": 2}, headers=manage
    )
    b2 = await clients[1].post(
        "/v1/coupons/", json={"code": "LANE-B", "init_count": 2}, headers=manage
    )
    assert (a.status_code, b.status_code, b2.status_code) == (201, 409, 201)
    assert a.headers["location"] == f"http://testserver/v1/coupons/{a.json()['id']}/"
    _, headers, body = comparable(a)
    _, headers2, body2 = comparable(b2)
    assert headers | {"location": ""} == headers2 | {"location": ""}
    differs = {"id", "code", "created_at", "updated_at"}
    assert {k: v for k, v in body.items() if k not in differs} == {
        k: v for k, v in body2.items() if k not in differs
    }
    assert lane.served == [True]


async def test_redemptions_and_their_refusals_are_django_s(
    clients: Any, lane: CountingLane, redeem: dict[str, str]
) -> None:
    await amake_coupon(code="LANE-R", init_count=2)
    # Two uses: one through each; then both are refused alike.
    a, b = await both(clients, "POST", "/v1/redemptions/", json={"code": "lane-r"}, headers=redeem)
    assert (a.status_code, b.status_code) == (201, 201)
    assert {a.json()["remaining_count"], b.json()["remaining_count"]} == {0, 1}
    assert set(a.headers) - UNCOMPARED == set(b.headers) - UNCOMPARED
    for body in ({"code": "lane-r"}, {"code": "nope"}, {"code": ""}, {"code": "lane-r", "x": 1}):
        a, b = await both(clients, "POST", "/v1/redemptions/", json=body, headers=redeem)
        assert a.status_code in (400, 404, 409)
        assert comparable(a) == comparable(b)
    assert lane.served == [True] * 5
    assert (await Coupon.objects.aget(code="LANE-R")).remaining_count == 0


async def test_an_idempotent_retry_is_replayed_through_the_lane(
    clients: Any, lane: CountingLane, redeem: dict[str, str]
) -> None:
    await amake_coupon(code="LANE-IDEM", init_count=5)
    headers = {**redeem, "Idempotency-Key": "lane-key-1"}
    a, b = await both(
        clients, "POST", "/v1/redemptions/", json={"code": "LANE-IDEM"}, headers=headers
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert b.headers["idempotent-replayed"] == "true"
    assert a.json() == b.json()
    again = await clients[0].post("/v1/redemptions/", json={"code": "LANE-IDEM"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == a.json()
    assert lane.served == [True, True]
    assert (await Coupon.objects.aget(code="LANE-IDEM")).remaining_count == 4


async def test_validations_holds_and_confirms_are_django_s(
    clients: Any, lane: CountingLane, redeem: dict[str, str]
) -> None:
    await amake_coupon(code="LANE-H", init_count=2)
    for body in ({"code": "LANE-H"}, {"code": "nope"}, {"code": 5}):
        a, b = await both(clients, "POST", "/v1/validations/", json=body, headers=redeem)
        assert comparable(a) == comparable(b)
    # Two holds, one through each: they take both uses; then a third is refused alike.
    a, b = await both(clients, "POST", "/v1/reservations/", json={"code": "LANE-H"}, headers=redeem)
    assert (a.status_code, b.status_code) == (201, 201)
    assert set(a.headers) - UNCOMPARED == set(b.headers) - UNCOMPARED
    assert a.headers["location"] == f"http://testserver/v1/reservations/{a.json()['id']}/"
    refused = await both(
        clients, "POST", "/v1/reservations/", json={"code": "LANE-H"}, headers=redeem
    )
    assert refused[0].status_code == 409
    assert comparable(refused[0]) == comparable(refused[1])
    # Confirm each hold through the other path; then confirming again is refused alike.
    held_a, held_b = a.json()["id"], b.json()["id"]
    via_lane, via_django = clients
    confirmed = [
        await via_lane.post(f"/v1/reservations/{held_b}/confirm/", json={}, headers=redeem),
        await via_django.post(f"/v1/reservations/{held_a}/confirm/", json={}, headers=redeem),
    ]
    assert [r.status_code for r in confirmed] == [201, 201]
    assert set(confirmed[0].headers) - UNCOMPARED == set(confirmed[1].headers) - UNCOMPARED
    again = await both(
        clients, "POST", f"/v1/reservations/{held_a}/confirm/", json={}, headers=redeem
    )
    assert again[0].status_code == 409
    assert comparable(again[0]) == comparable(again[1])
    assert lane.served == [True] * 7
    coupon = await Coupon.objects.aget(code="LANE-H")
    assert (coupon.remaining_count, coupon.held_count) == (0, 0)


@pytest.mark.parametrize(
    ("method", "url", "headers", "status"),
    [
        ("GET", "/v1/coupons/{id}/", {}, 401),  # no key
        ("GET", "/v1/coupons/{id}/", {"Authorization": "Bearer nope"}, 401),  # unknown key
        ("GET", "/v1/coupons/{id}/", {"Authorization": "Basic x"}, 401),  # not a bearer key
        ("GET", "/v1/coupons/{id}/", {"Authorization": "REDEEM"}, 403),  # scope
        ("POST", "/v1/coupons/", {"Authorization": "REDEEM"}, 403),  # scope
        ("GET", "/v1/coupons/{id}/", {"Authorization": "MANAGE", "Host": "evil.example"}, 400),
        ("GET", "/v1/coupons/not-a-uuid/", {"Authorization": "MANAGE"}, 404),  # no route
        ("GET", "/v1/coupons/", {"Authorization": "MANAGE"}, 200),  # not a lane route
        ("PATCH", "/v1/coupons/{id}/", {"Authorization": "MANAGE"}, 400),  # nor method
        ("HEAD", "/v1/coupons/{id}/", {"Authorization": "MANAGE"}, 200),
        ("POST", "/v1/reservations/{id}/release/", {"Authorization": "REDEEM"}, 404),
    ],
)
async def test_what_the_lane_does_not_serve_goes_to_django(
    clients: Any,
    lane: CountingLane,
    manage: dict[str, str],
    redeem: dict[str, str],
    method: str,
    url: str,
    headers: dict[str, str],
    status: int,
) -> None:
    coupon = await amake_coupon(code="LANE-PASS", init_count=1)
    keys = {"MANAGE": manage["Authorization"], "REDEEM": redeem["Authorization"]}
    headers = {k: keys.get(v, v) for k, v in headers.items()}
    url = url.format(id=coupon.id)
    kw: dict[str, Any] = {"headers": headers}
    if method == "PATCH":
        kw["json"] = {"init_count": 0}
    elif method == "POST":
        kw["json"] = {} if "release" in url else {"code": "Z", "init_count": 1}
    a, b = await both(clients, method, url, **kw)
    assert a.status_code == status
    assert comparable(a) == comparable(b)
    assert True not in lane.served


async def test_a_fault_of_the_lane_is_a_500_problem_and_never_a_second_try(
    clients: Any, lane: CountingLane, manage: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected after the create committed: Django must not run it again."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr("coupons.api.lane.record", broken)
    response = await clients[0].post(
        "/v1/coupons/", json={"code": "LANE-FAULT", "init_count": 1}, headers=manage
    )
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert await Coupon.objects.filter(code="LANE-FAULT").acount() == 1
    assert lane.served == []  # serve() raised
