"""Cursor pages in and out: `?cursor=&page_size=` to a Cursor, a Page to the contract's JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.serializers import Serializer

from core.api.fields import validated
from core.errors import ValidationFailed
from core.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, Page

# ASCII digits only: str.isdigit() takes "²" (then int() fails, a 500) and int() reads "٣" as 3.
_PAGE_SIZE = re.compile(r"[0-9]{1,3}")

PAGE_PARAMS = frozenset({"cursor", "page_size"})
PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor",
        {"type": "string", "minLength": 1},
        description="From a page's `next` or `previous` link, on the list that gave it.",
        required=False,
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        description=f"1 to {MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}.",
        required=False,
    ),
]


def list_request(
    request: Request, filters: type[Serializer] | None = None
) -> tuple[dict[str, Any], Cursor | None, int]:
    """Filters, cursor and page size from the query string; an unknown parameter is a 400
    (a mistyped filter silently ignored would return the wrong rows)."""
    params = request.query_params
    allowed = PAGE_PARAMS | (set(filters().fields) if filters is not None else set())
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValidationFailed(
            {name: [f"Unknown parameter; use {', '.join(sorted(allowed))}."] for name in unknown}
        )
    repeated = sorted(name for name in params if len(params.getlist(name)) > 1)
    if repeated:
        raise ValidationFailed({name: ["Give it once."] for name in repeated})
    found = {}
    if filters is not None:
        found = validated(filters, {k: v for k, v in params.items() if k not in PAGE_PARAMS})
    return (found, *page_request(request))


def page_request(request: Request) -> tuple[Cursor | None, int]:
    """The cursor (None when not given; an empty one is a 400 like any other bad one) and
    the page size. A cursor is bound to the list (its path) whose page made it."""
    raw_cursor = request.query_params.get("cursor")
    cursor = None if raw_cursor is None else Cursor.parse(raw_cursor, kind=request.path)
    return cursor, page_size(request)


def page_size(request: Request) -> int:
    raw_size = request.query_params.get("page_size")
    if raw_size is None:
        return DEFAULT_PAGE_SIZE
    if not _PAGE_SIZE.fullmatch(raw_size) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise ValidationFailed({"page_size": [f"Must be an integer from 1 to {MAX_PAGE_SIZE}."]})
    return int(raw_size)


def _link(request: Request, cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    params: QueryDict = request.query_params.copy()
    params["cursor"] = cursor.token(kind=request.path)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def page_json[T](request: Request, page: Page[T], shape: Callable[[T], Any]) -> dict[str, Any]:
    return {
        "results": [shape(row) for row in page.rows],
        "next": _link(request, page.next),
        "previous": _link(request, page.previous),
    }
