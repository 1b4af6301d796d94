"""The OpenAPI document as a client generator reads it (issue 30): words for people on every
operation, every answer the server can give with its headers, and closed sets as enums. A
new operation without a summary, a status or a header fails here."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.api.problems import PROBLEMS
from core.domain.money import currencies
from coupons.models import ReservationStatus
from coupons.shapes import REFUSAL_REASONS
from events.types import EVENT_TYPES
from webhooks.models import DeliveryStatus

# Text of the framework and of the code's docstrings, which is not for clients.
INTERNAL_WORDS = ("adrf", "async_dispatch", "event loop", "serializer", "APIView")
# They create many coupons at once: no one URL to give in Location.
MANY_CREATED = {"create_coupon_batch", "import_coupons"}
IDEMPOTENT = {"redeem", "revert_redemption", "hold", "confirm_reservation", "release_reservation",
              "redeem_group", "revert_redemption_group", "hold_group",
              "confirm_reservation_group", "release_reservation_group"}  # fmt: skip
UNAUTHENTICATED = {"healthz", "readyz"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"]
    return found


def enum_of(document: dict[str, Any], prop: dict[str, Any]) -> list[str]:
    """The values of a property's enum, through its $ref (or a nullable oneOf)."""
    refs = [prop, *prop.get("allOf", []), *prop.get("oneOf", [])]
    for ref in refs:
        if "$ref" in ref and not ref["$ref"].endswith("/NullEnum"):
            values: list[str] = schemas(document)[ref["$ref"].rsplit("/", 1)[1]]["enum"]
            return values
    return list(prop.get("enum", []))


def test_every_operation_has_a_summary_a_description_and_one_resource_tag(document):
    for _method, path, operation in operations(document):
        name = operation["operationId"]
        assert operation.get("summary", "").strip(), name
        assert len(operation.get("description", "")) > len(operation["summary"]), name
        for text in (operation["summary"], operation["description"]):
            assert not any(word in text for word in INTERNAL_WORDS), (name, text)
        assert len(operation["tags"]) == 1 and operation["tags"] != ["v1"], name
        assert operation["tags"][0] == (
            "operations" if name in UNAUTHENTICATED else path.split("/")[2]
        ), name
    tags = {tag["name"] for tag in document["tags"]}
    assert {operation["tags"][0] for _, _, operation in operations(document)} <= tags


def test_no_schema_is_described_in_the_code_s_words(document):
    for name, schema in schemas(document).items():
        description = schema.get("description", "")
        assert not any(word in description for word in INTERNAL_WORDS), (name, description)
        if "enum" not in schema:
            assert description.strip(), name


def test_every_operation_declares_every_status_it_can_answer_as_a_problem(document):
    for _method, path, operation in operations(document):
        name = operation["operationId"]
        statuses = set(operation["responses"])
        expected = {"400", "405", "413", "500"}
        if name not in UNAUTHENTICATED:
            expected |= {"401", "403", "503"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected.add("415")
        if name in IDEMPOTENT:
            expected.add("422")
        assert statuses >= expected, (name, expected - statuses)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = response["content"]
                assert list(content) == ["application/problem+json"], (name, status)
                assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem"), (
                    name,
                    status,
                )
                assert response["description"], (name, status)
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]
    for name in ("redeem", "validate_code", "hold", "redeem_group", "hold_group"):
        assert "429" in _operation(document, name)["responses"], name


def _operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return next(o for _, _, o in operations(document) if o["operationId"] == operation_id)


def test_every_status_declares_the_headers_it_carries(document):
    idempotent_seen = set()
    for _method, _path, operation in operations(document):
        name = operation["operationId"]
        responses = operation["responses"]
        for status, response in responses.items():
            headers = response.get("headers", {})
            if status == "201" and name not in MANY_CREATED:
                assert headers["Location"]["required"] is True, name
            if status in ("429", "503"):
                assert headers["Retry-After"]["schema"]["type"] == "integer", (name, status)
            if status == "401":
                assert "WWW-Authenticate" in headers, name
            if status == "405":
                assert "Allow" in headers, name
        takes_key = any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
        if takes_key:
            idempotent_seen.add(name)
            for status in ("200", "201", "404", "409"):
                if status in responses:
                    assert "Idempotent-Replayed" in responses[status]["headers"], (name, status)
    assert idempotent_seen >= IDEMPOTENT


def test_closed_sets_are_enums(document):
    found = schemas(document)

    assert enum_of(document, found["Problem"]["properties"]["code"]) == list(PROBLEMS)
    assert enum_of(document, found["ValidationResult"]["properties"]["reason"]) == list(
        REFUSAL_REASONS
    )
    for name in ("Reservation", "ReservationGroup"):
        assert set(enum_of(document, found[name]["properties"]["status"])) == set(
            ReservationStatus.values
        ), name
    assert set(enum_of(document, found["WebhookDeliveryAttempt"]["properties"]["status"])) == set(
        DeliveryStatus.values
    )
    assert found["EventTypeEnum"]["enum"] == list(EVENT_TYPES)
    names = (
        "Redemption", "Reservation", "ValidationResult", "Money", "Discount",
        "CodesValidationResult", "RedemptionGroup",
    )  # fmt: skip
    for name in names:
        assert enum_of(document, found[name]["properties"]["currency"]) == currencies(), name
    for name in ("CodesValidationResult", "CodeResult"):  # several codes: not_combinable too
        reason = found[name]["properties"]["reason"]
        assert enum_of(document, reason) == [*REFUSAL_REASONS, "not_combinable"], name


def test_a_validation_s_reasons_are_problem_codes(document):
    assert set(REFUSAL_REASONS) <= set(PROBLEMS)


def test_a_page_says_how_to_follow_it(document):
    for name, schema in schemas(document).items():
        if name.endswith("Page"):
            for link in ("next", "previous"):
                assert schema["properties"][link].get("description"), (name, link)


def test_an_event_s_data_is_typed_by_its_type(document):
    found = schemas(document)
    event = found["Event"]

    mapping = event["discriminator"]["mapping"]
    assert event["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(EVENT_TYPES)
    for name, ref in mapping.items():
        variant = found[ref.rsplit("/", 1)[1]]
        assert name in variant["properties"]["type"]["enum"]
        component = name.split(".")[0].title()
        assert variant["properties"]["data"]["allOf"] == [
            {"$ref": f"#/components/schemas/{component}"}
        ], name
    assert {ref["$ref"] for ref in event["oneOf"]} == set(mapping.values())
