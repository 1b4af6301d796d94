"""Reading the event log over the API, as a client does: follow `next` until a page is
empty."""

from __future__ import annotations

import time
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from django.db import connection


def wait_for_log(timeout: float = 10.0) -> None:
    """Until every transaction that had begun by now has finished (in the whole cluster:
    other databases' transactions hold the snapshot's xmin too), so the log shows every
    event committed so far; at most `timeout` seconds."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        horizon = cursor.fetchone()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            if cursor.fetchone()[0] >= horizon:
                return
            time.sleep(0.02)
    raise AssertionError(f"a transaction stayed open for {timeout} s: the log is held back")


async def all_events(
    api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    await sync_to_async(wait_for_log)()
    response = await api.get("/v1/events/", params={"page_size": 100, **params}, headers=headers)
    found: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["results"]:
            return found
        found.extend(page["results"])
        response = await api.get(page["next"], headers=headers)


async def events_of(
    api: httpx.AsyncClient, headers: dict[str, str], type_: str
) -> list[dict[str, Any]]:
    return await all_events(api, headers, type=type_)


async def get(api: httpx.AsyncClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    response = await api.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
