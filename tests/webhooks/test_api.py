"""/v1/webhook-endpoints/: create (the secret shown once), list, read, edit, delete, and
an endpoint's delivery attempts, through the ASGI app."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from events.services.outbox import record_event
from tests.problems import assert_problem
from tests.webhooks.fanout import fan_out
from tests.webhooks.receiver import running_receiver
from webhooks.models import WebhookEndpoint
from webhooks.services.delivery import deliver_due_webhooks

pytestmark = pytest.mark.django_db(transaction=True)

HOOK = {"url": "https://hooks.example.com/coupons", "events": ["redemption.created"]}
FIELDS = {"id", "url", "events", "is_active", "description", "disabled_reason", "created_at"}


@pytest.fixture
def private_hosts(settings):
    # https://hooks.example.com would need DNS; the guard's own tests cover resolution.
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


async def create(api, manage, **fields):
    response = await api.post("/v1/webhook-endpoints/", json={**HOOK, **fields}, headers=manage)
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_endpoint_without_events_gets_every_event(api, manage, private_hosts):
    response = await api.post("/v1/webhook-endpoints/", json={"url": HOOK["url"]}, headers=manage)

    assert response.status_code == 201, response.text
    assert response.json()["events"] == ["*"]


async def test_an_endpoint_is_created_with_its_secret_shown_only_then(api, manage, private_hosts):
    body = await create(api, manage, description="loyalty points")

    assert set(body) == FIELDS | {"secret"}
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["redemption.created"] and body["is_active"] is True
    assert body["disabled_reason"] is None and body["description"] == "loyalty points"
    fetched = await api.get(f"/v1/webhook-endpoints/{body['id']}/", headers=manage)
    assert fetched.status_code == 200
    assert fetched.json() == {k: v for k, v in body.items() if k != "secret"}
    listed = await api.get("/v1/webhook-endpoints/", headers=manage)
    assert listed.status_code == 200
    assert listed.json()["results"] == [fetched.json()]
    assert "secret" not in listed.text and body["secret"] not in listed.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["redemption.created", "coupon.melted"]}, "events"),
        ({"events": []}, "events"),
        ({"events": ["*", "coupon.created"]}, "events"),
        ({"events": "redemption.created"}, "events"),
        ({"events": ["coupon.created", "coupon.created"]}, "events"),
        ({"url": "http://hooks.example.com/"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/"}, "url"),
        ({"url": "ftp://hooks.example.com/"}, "url"),
        ({"url": 42}, "url"),
        ({"secret": "mine"}, "secret"),
        ({"description": "a\x00b"}, "description"),  # as the schema's pattern says
    ],
)
async def test_bad_input_is_a_400_naming_the_field(api, manage, private_hosts, body, field):
    response = await api.post("/v1/webhook-endpoints/", json={**HOOK, **body}, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"], problem
    assert not await WebhookEndpoint.objects.aexists()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://[::ffff:192.168.0.1]/",
    ],
)
async def test_a_url_to_a_non_public_host_is_refused_at_creation(api, manage, url):
    response = await api.post("/v1/webhook-endpoints/", json={**HOOK, "url": url}, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert "WEBHOOK_ALLOW_PRIVATE_HOSTS" in problem["errors"]["url"][0]


async def test_a_patch_changes_the_fields_and_re_enabling_clears_the_reason(
    api, manage, private_hosts, settings
):
    body = await create(api, manage)
    await WebhookEndpoint.objects.filter(pk=body["id"]).aupdate(
        is_active=False, disabled_reason="24 hours of failures", failing_since=timezone.now()
    )
    path = f"/v1/webhook-endpoints/{body['id']}/"

    response = await api.patch(
        path, json={"events": ["*"], "description": "all", "is_active": True}, headers=manage
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["events"], changed["description"], changed["is_active"]) == (["*"], "all", True)
    assert changed["disabled_reason"] is None
    stored = await WebhookEndpoint.objects.aget(pk=body["id"])
    assert stored.failing_since is None
    bad = await api.patch(path, json={"events": ["nope"]}, headers=manage)
    assert_problem(bad, 400, "validation_error")
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    refused = await api.patch(path, json={"url": "https://127.0.0.1/"}, headers=manage)
    assert_problem(refused, 400, "validation_error")
    assert (await api.get(path, headers=manage)).json() == changed


async def test_missing_endpoints_are_404_and_a_delete_is_204(api, manage, private_hosts):
    body = await create(api, manage)
    path = f"/v1/webhook-endpoints/{body['id']}/"

    assert (await api.delete(path, headers=manage)).status_code == 204
    for method, route in [
        ("GET", path), ("PATCH", path), ("DELETE", path), ("GET", f"{path}deliveries/"),
        ("GET", f"/v1/webhook-endpoints/{uuid.uuid4()}/deliveries/"),
    ]:  # fmt: skip
        response = await api.request(method, route, json={} if method == "PATCH" else None,
                                     headers=manage)  # fmt: skip
        assert_problem(response, 404, "not_found")


async def test_the_routes_need_a_manage_key(api, redeem):
    for method, route in [
        ("GET", "/v1/webhook-endpoints/"), ("POST", "/v1/webhook-endpoints/"),
        ("GET", f"/v1/webhook-endpoints/{uuid.uuid4()}/deliveries/"),
    ]:  # fmt: skip
        assert_problem(await api.request(method, route, headers=redeem), 403, "permission_denied")
    assert_problem(await api.get("/v1/webhook-endpoints/"), 401, "unauthenticated")


def deliver_twice(url_event_types: list[str]):
    with transaction.atomic():
        event = record_event("redemption.created", {"id": "r"})
    fan_out(event)
    start = timezone.now()
    deliver_due_webhooks(now=start)  # 500
    deliver_due_webhooks(now=start + timedelta(seconds=30))  # 200
    return event


async def test_the_delivery_log_lists_attempts_newest_first_with_the_pending_one(
    api, manage, settings
):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    with running_receiver(statuses=[500, 500]) as receiver:
        endpoint = await create(api, manage, url=receiver.url)
        with_event = sync_to_async(deliver_twice)
        event = await with_event(["redemption.created"])

    response = await api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/?page_size=2", headers=manage
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert [a["attempt"] for a in page["results"]] == [3, 2]
    pending, failed = page["results"]
    assert set(pending) == {
        "id", "event_id", "event_type", "attempt", "status", "response_status", "duration_ms",
        "attempted_at", "next_attempt_at",
    }  # fmt: skip
    assert pending["status"] == "pending" and pending["attempted_at"] is None
    assert pending["next_attempt_at"] == failed["next_attempt_at"]
    assert (failed["status"], failed["response_status"]) == ("failed", 500)
    assert failed["event_id"] == str(event.id) and failed["event_type"] == "redemption.created"
    assert failed["duration_ms"] >= 0 and failed["attempted_at"]
    rest = (await api.get(page["next"], headers=manage)).json()
    assert [a["attempt"] for a in rest["results"]] == [1] and rest["next"] is None


async def test_the_schema_shows_the_secret_only_in_the_created_answer(api):
    document = (await api.get("/v1/schema/")).json()
    schemas = document["components"]["schemas"]
    paths = document["paths"]

    create = paths["/v1/webhook-endpoints/"]["post"]["responses"]["201"]
    assert create["content"]["application/json"]["schema"]["$ref"].endswith(
        "/WebhookEndpointCreated"
    )
    assert "secret" in schemas["WebhookEndpointCreated"]["properties"]
    assert "secret" not in schemas["WebhookEndpoint"]["properties"]
    assert set(schemas["WebhookDeliveryAttempt"]["properties"]) == {
        "id", "event_id", "event_type", "attempt", "status", "response_status", "duration_ms",
        "attempted_at", "next_attempt_at",
    }  # fmt: skip
    types, star = schemas["WebhookEndpointCreateInput"]["properties"]["events"]["oneOf"]
    items = types["items"]
    names = schemas[items["$ref"].rsplit("/", 1)[1]]["enum"] if "$ref" in items else items["enum"]
    assert "redemption.created" in names and "*" not in names
    assert star["maxItems"] == 1 and star["items"]["enum"] == ["*"]
    assert schemas["WebhookEndpointCreateInput"]["additionalProperties"] is False


async def test_readyz_and_the_metrics_show_the_delivery_backlog(
    api, manage, private_hosts, settings
):
    settings.METRICS_TOKEN = "scrape-me"
    endpoint = await create(api, manage)
    long_ago = timezone.now() - timedelta(minutes=5)

    def queue_two() -> None:
        from webhooks.services.fanout import queue_test_delivery

        queue_test_delivery(uuid.UUID(endpoint["id"]), now=long_ago)
        queue_test_delivery(uuid.UUID(endpoint["id"]))

    await sync_to_async(queue_two)()

    ready = (await api.get("/readyz")).json()
    assert ready["webhooks"]["pending"] == 2
    assert 299 <= ready["webhooks"]["oldest_due_seconds"] < 400
    metrics = (await api.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text
    assert "coupon_webhook_deliveries_pending 2.0" in metrics
    assert re.search(r"coupon_webhook_oldest_due_seconds (29\d|3\d\d)\.", metrics), metrics
