"""The README and docs/ send readers only to files a clone of this repository has, and
docs/api.md's example answers have the shape of the server's real answers (README's are
checked by the walk-through that runs them, tests/test_readme_walkthrough.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from events.models import Event
from tests.examples import shape_mismatches
from tests.webhooks.fanout import fan_out
from tests.webhooks.receiver import running_receiver
from webhooks.services.delivery import deliver_due_webhooks

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and bare `path.md` mentions; http(s) links and #anchors are not files.
LINK = re.compile(r"\]\(([^)#\s]+)[^)]*\)|`([^`\s]+\.md)`")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_document_names_is_in_the_repository(document: Path):
    for match in LINK.finditer(document.read_text()):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+://", target):
            continue
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{document.name} points outside: {target}"
        assert resolved.exists(), f"{document.name} names a missing file: {target}"


API_DOC = ROOT / "docs" / "api.md"
# An example answer: a JSON block right under `<!-- answer: NAME -->` (NAME: real_answers).
ANSWER = re.compile(
    r"^[ \t]*<!-- answer: (?P<name>[\w-]+) -->\n[ \t]*```json\n(?P<body>.*?)\n[ \t]*```",
    re.MULTILINE | re.DOTALL,
)
# A JSON block: a whole object (an answer, which must be marked) or a request's fragment
# (`"order": {...}`), which is not an answer.
OBJECT_BLOCK = re.compile(r"^[ \t]*```json\n[ \t]*\{", re.MULTILINE)


def documented_answers() -> list[tuple[str, Any]]:
    return [(m["name"], json.loads(m["body"])) for m in ANSWER.finditer(API_DOC.read_text())]


def test_every_example_object_of_the_api_page_is_marked_as_an_answer():
    text = API_DOC.read_text()
    assert len(OBJECT_BLOCK.findall(text)) == len(documented_answers()) >= 8


async def real_answers(api: Any, manage: dict[str, str], redeem: dict[str, str]) -> dict[str, Any]:
    """The answers the page shows, made as the page describes them."""
    answers: dict[str, Any] = {}

    async def send(method: str, path: str, status: int, body: Any = None, **headers: str) -> Any:
        response = await api.request(method, path, json=body, headers={**manage, **headers})
        assert response.status_code == status, response.text
        return response.json()

    piotr = await send("POST", "/v1/coupons/", 201, {"code": "PIOTR", "init_count": 100})
    answers["problem"] = await send("POST", "/v1/coupons/", 409, {"code": "piotr", "init_count": 1})
    answers["coupon"] = await send("GET", f"/v1/coupons/{piotr['id']}/", 200)
    answers["redemption"] = await send(
        "POST", "/v1/redemptions/", 201, {"code": "PIOTR", "customer_id": "c-42",
                                          "order_id": "o-1001"}, **redeem,
    )  # fmt: skip
    discount = {"percent_off": 20, "currency": "EUR", "max_amount_off": 1500}
    answers["campaign"] = await send(
        "POST", "/v1/campaigns/", 201, {"name": "Black Friday 2026", "discount": discount,
                                        "per_customer_limit": 1, "max_redemptions": 10000,
                                        "budget": {"amount": 5000000, "currency": "EUR"}},
    )  # fmt: skip
    spring = {"code": "SPRING", "init_count": 500,
              "discount": {"percent_off": 12.5, "currency": "EUR"}}  # fmt: skip
    await send("POST", "/v1/coupons/", 201, spring)
    answers["reservation"] = await send(
        "POST", "/v1/reservations/", 201, {"code": "SPRING", "customer_id": "c-42", "order_id":
                                           "o-7", "order": {"amount": 12999, "currency": "EUR"}},
        **redeem,
    )  # fmt: skip
    for code, discount in (
        ("ALL10", {"percent_off": 10, "combines_with": {"shipping": True}}),
        ("SHIPFREE", {"percent_off": 100, "target": "shipping", "combines_with": {"order": True}}),
    ):
        await send("POST", "/v1/coupons/", 201, {"code": code, "init_count": 100,
                                                 "discount": discount})  # fmt: skip
    order = {"amount": 10000, "currency": "EUR", "shipping_amount": 495}
    answers["reservation-group"] = await send(
        "POST", "/v1/reservation-groups/", 201, {"codes": ["SHIPFREE", "ALL10"], "customer_id":
                                                 "c-42", "order_id": "o-8", "order": order},
        **redeem,
    )  # fmt: skip
    events = await send("GET", "/v1/events/?type=redemption.created", 200)
    answers["event"] = events["results"][0]
    with running_receiver(statuses=[500]) as receiver:
        endpoint = await send(
            "POST", "/v1/webhook-endpoints/", 201, {"url": receiver.url, "description":
                                                    "loyalty points", "events": ["coupon.created"]}
        )  # fmt: skip
        answers["webhook-endpoint"] = await send(
            "GET", f"/v1/webhook-endpoints/{endpoint['id']}/", 200
        )
        await send("POST", "/v1/coupons/", 201, {"code": "HOOKED", "init_count": 1})
        await sync_to_async(deliver_once)()
    attempts = await send("GET", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/", 200)
    answers["delivery-attempt"] = next(a for a in attempts["results"] if a["status"] == "failed")
    return answers


def deliver_once() -> None:
    """The HOOKED coupon's event to the endpoint, once (its receiver answers 500)."""
    fan_out(Event.objects.get(type="coupon.created", data__code="HOOKED"))
    deliver_due_webhooks(now=timezone.now())


@pytest.mark.django_db(transaction=True)
async def test_the_api_page_s_example_answers_have_the_shape_of_real_answers(
    api, manage, redeem, settings
):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    real = await real_answers(api, manage, redeem)
    documented = documented_answers()
    assert {name for name, _ in documented} == set(real)
    drift = {
        name: problems
        for name, example in documented
        if (problems := shape_mismatches(example, real[name]))
    }
    assert not drift, "\n".join(f"{name}: {problems}" for name, problems in drift.items())
