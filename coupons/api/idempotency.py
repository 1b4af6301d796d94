"""`Idempotency-Key` for the API's POSTs: validate the header, fingerprint the request,
and answer through `repository.answer_once` in one thread hop."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request

from coupons import repository
from coupons.api.http import to_json_bytes
from coupons.api.problems import problem_for_exception
from coupons.errors import ProblemError, ValidationFailed

HEADER = "Idempotency-Key"
KEPT_HEADERS = ("Location",)


def idempotency_key_of(request: Request) -> str | None:
    key = request.META.get("HTTP_IDEMPOTENCY_KEY")  # request.headers copies every header
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
        raise ValidationFailed(
            {HEADER: ["Must be 1 to 255 printable ASCII characters."]},
            "The Idempotency-Key header is invalid.",
        )
    return key


def fingerprint_of(request: Request, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raw = f"{request.method} {request.path.lower()}\n{canonical}"
    return hashlib.sha256(raw.encode()).hexdigest()


def stored_json(
    data: object, *, status: int, headers: dict[str, str] | None = None
) -> repository.StoredResponse:
    return repository.StoredResponse(
        status=status,
        content_type="application/json",
        body=to_json_bytes(data),
        headers=headers or {},
    )


def stored_problem(exc: ProblemError) -> repository.StoredResponse:
    response = problem_for_exception(exc)
    return repository.StoredResponse(
        status=response.status_code,
        content_type=response["Content-Type"],
        body=response.content,
        headers={name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
    )


def http_response(stored: repository.StoredResponse) -> HttpResponse:
    return HttpResponse(
        stored.body, status=stored.status, content_type=stored.content_type, headers=stored.headers
    )


async def answer(
    request: Request, body: dict[str, Any], produce: Callable[[], repository.StoredResponse]
) -> HttpResponse:
    """Run `produce` once in a worker thread; with an Idempotency-Key, at most once per key."""
    key = idempotency_key_of(request)
    if key is None:
        return http_response(await repository.in_worker(produce)())
    stored, replayed = await repository.in_worker(repository.answer_once)(
        api_key_id=request.user.key_id,  # type: ignore[union-attr]
        key=key,
        fingerprint=fingerprint_of(request, body),
        produce=produce,
        refusal=stored_problem,
    )
    response = http_response(stored)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response
