"""`Idempotency-Key` on the API's POSTs, wrapped around a unit of work: validate the header,
fingerprint the request, and run the effect and keep its answer in ONE transaction, in one
thread hop."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from rest_framework.request import Request

from access.services import idempotency
from access.services.idempotency import KeptBy, StoredAnswer
from core.api.http import json_default, to_json_bytes
from core.api.problems import is_replayable, problem_for_exception
from core.errors import CodedError, ValidationFailed
from core.workers import in_worker

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
    # Decimals as the answer would write them: 12.5 and 12.50 are one body.
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default
    )
    raw = f"{request.method} {request.path.lower()}\n{canonical}"
    return hashlib.sha256(raw.encode()).hexdigest()


def stored_json(
    data: object, *, status: int, headers: dict[str, str] | None = None
) -> StoredAnswer:
    return StoredAnswer(
        status=status, content_type="application/json", body=to_json_bytes(data),
        headers=headers or {},
    )  # fmt: skip


def stored_problem(exc: CodedError) -> StoredAnswer:
    response = problem_for_exception(exc)
    return StoredAnswer(
        status=response.status_code,
        content_type=response["Content-Type"],
        body=response.content,
        headers={name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
    )


def http_response(stored: StoredAnswer) -> HttpResponse:
    return HttpResponse(
        stored.body, status=stored.status, content_type=stored.content_type, headers=stored.headers
    )


class _AnsweredMeanwhile(Exception):
    """A concurrent request with the same key kept its answer first: undo this effect."""


# An effect that can make its answer in one statement, keeping it there for the key given
# (coupons.services.redemptions.redeem_at_once); None when it cannot, with nothing written.
AtOnce = Callable[[KeptBy | None], StoredAnswer | None]


def _answer_once(
    *, api_key_id: Any, key: str, fingerprint: str, produce: Callable[[], StoredAnswer],
    at_once: AtOnce | None,
) -> tuple[StoredAnswer, bool]:  # fmt: skip
    """The answer for the key: produced now, or replayed (True). The effect and its kept
    answer commit together: by `at_once`'s one statement, else the answer kept by the
    transaction's last statement; either way a hot row the effect locks (a flash sale's
    coupon) is held for that statement and the commit only. Concurrent retries each try;
    the first to keep its answer wins, and the others undo their effects and replay it:
    one effect, identical answers."""
    ask = {"api_key_id": api_key_id, "key": key, "fingerprint": fingerprint}
    if at_once is not None:
        # First, without reading the key: a key kept before fails the statement, with
        # nothing written, and its answer is replayed (or refused for another request).
        try:
            made = at_once(KeptBy(**ask))
        except IntegrityError as exc:
            if not idempotency.is_key_taken(exc):
                raise
            return _replayed(ask)
        except CodedError:
            if (kept := idempotency.kept_answer(**ask)) is not None:
                return kept, True  # a retry is replayed, whatever the refusal now
            raise
        if made is not None:
            return made, False
    kept = idempotency.kept_answer(**ask)
    if kept is not None:
        return kept, True
    try:
        with transaction.atomic():
            answer = produce()
            if not idempotency.keep_first_answer(**ask, answer=answer):
                raise _AnsweredMeanwhile
        return answer, False
    except _AnsweredMeanwhile:
        pass
    except CodedError as exc:
        # Refused, with nothing written. A retry that raced a first try which succeeded
        # meanwhile (the code it created now taken, the use it spent now gone) replays
        # that try's answer rather than its own refusal.
        kept = idempotency.kept_answer(**ask)
        if kept is not None:
            return kept, True
        if not is_replayable(exc):
            raise  # nothing kept: a retry is served afresh
        answer = stored_problem(exc)
        if idempotency.keep_first_answer(**ask, answer=answer):
            return answer, False
    return _replayed(ask)


def _replayed(ask: dict[str, Any]) -> tuple[StoredAnswer, bool]:
    kept = idempotency.kept_answer(**ask)
    assert kept is not None  # kept by a committed transaction; answers are never deleted early
    return kept, True


_aanswer_once = in_worker(_answer_once)


def _answer(produce: Callable[[], StoredAnswer], at_once: AtOnce | None) -> StoredAnswer:
    return (at_once and at_once(None)) or produce()


async def answer(
    request: Request, body: dict[str, Any], produce: Callable[[], StoredAnswer],
    at_once: AtOnce | None = None,
) -> HttpResponse:  # fmt: skip
    """Run `produce` once in a worker thread; with an Idempotency-Key, at most once per key.
    `at_once`, when given, is tried first (in the same hop), and `produce` only if it made
    no answer."""
    key = idempotency_key_of(request)
    if key is None:
        return http_response(await in_worker(_answer)(produce, at_once))
    stored, replayed = await _aanswer_once(
        api_key_id=request.user.key_id,  # type: ignore[union-attr]
        key=key,
        fingerprint=fingerprint_of(request, body),
        produce=produce,
        at_once=at_once,
    )
    response = http_response(stored)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response
