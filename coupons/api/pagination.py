"""Cursor pages in and out: `?cursor=&page_size=` to a Cursor, a Page to the contract's JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import QueryDict
from rest_framework.request import Request

from coupons.errors import ValidationFailed
from coupons.repository import Cursor, Page

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_request(request: Request) -> tuple[Cursor | None, int]:
    params = request.query_params
    size = DEFAULT_PAGE_SIZE
    if (raw_size := params.get("page_size")) is not None:
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
            raise ValidationFailed(
                {"page_size": [f"Must be an integer from 1 to {MAX_PAGE_SIZE}."]}
            )
        size = int(raw_size)
    raw_cursor = params.get("cursor")
    return (Cursor.parse(raw_cursor) if raw_cursor else None), size


def _link(request: Request, cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    params: QueryDict = request.query_params.copy()
    params["cursor"] = cursor.token()
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def page_json[T](request: Request, page: Page[T], shape: Callable[[T], Any]) -> dict[str, Any]:
    return {
        "results": [shape(row) for row in page.rows],
        "next": _link(request, page.next),
        "previous": _link(request, page.previous),
    }
