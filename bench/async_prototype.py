"""Prototype measurement (issue 18), not wired into the API: ONE unit of work, GET coupon by
id (`raw.one_coupon`'s SQL and row conversion), through today's `in_worker` thread hop
beside django-async-backend's asyncio connection in the event loop, no thread.

django-async-backend is not a dependency of the project: run this from a scratch venv that
has the project's requirements and `django-async-backend[binary,pool]`, e.g.

    uv venv /tmp/async-venv -p .venv/bin/python
    uv export --frozen --no-hashes --no-dev --no-emit-project > /tmp/req.txt
    uv pip install -p /tmp/async-venv -r /tmp/req.txt 'django-async-backend[binary,pool]'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coupons_bench /tmp/async-venv/bin/python \
        bench/async_prototype.py

against a database `make bench` has seeded. It alternates A and B (PROTO_ROUNDS, default 2),
each PROTO_UNITS units (default 20,000) from PROTO_CONCURRENCY tasks (default 64, as wrk's
connections), and prints units/s and the process's CPU time per unit.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django
from django.conf import settings

UNITS = int(os.environ.get("PROTO_UNITS", "20000"))
CONCURRENCY = int(os.environ.get("PROTO_CONCURRENCY", "64"))
ROUNDS = int(os.environ.get("PROTO_ROUNDS", "2"))


def configure() -> None:
    default = settings.DATABASES["default"]
    pool = {k: v for k, v in default["OPTIONS"]["pool"].items() if k != "check"}
    # The same database and pool size; the pool's check is psycopg's own async one (ours,
    # config/db.py, is a sync function): psycopg's sends a query per checkout, so it is
    # left off here to compare like with like (ours skips that round trip too).
    settings.DATABASES["async"] = {
        **default,
        "ENGINE": "django_async_backend.db.backends.postgresql",
        "OPTIONS": {**default["OPTIONS"], "pool": pool},
        "CONN_HEALTH_CHECKS": False,
    }
    settings.ASYNC_BACKEND_DISABLE_POOL_WARNING = True
    django.setup()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fresh(coroutine: Any) -> Any:
    """`coroutine` in a task of its own with a context of its own, as each request is: the
    async backend's connection wrapper belongs to the task (context) that first used it."""
    return asyncio.create_task(coroutine, context=contextvars.Context())


async def run(unit: Any, ids: list[uuid.UUID]) -> tuple[float, float]:
    queue = iter(range(UNITS))

    async def task() -> None:
        for n in queue:
            await fresh(unit(ids[n % len(ids)]))

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(task() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started, time.process_time() - cpu


async def main() -> None:
    configure()
    from django.db import connection
    from django_async_backend.db import async_connections

    from core.workers import in_worker
    from coupons.db import raw

    select_by_id = raw._SELECT_COUPON + "id = %s"

    @in_worker
    def threaded(coupon_id: uuid.UUID) -> Any:
        return raw.one_coupon(coupon_id=coupon_id)

    async def in_loop(coupon_id: uuid.UUID) -> Any:
        conn = async_connections["async"]
        try:
            async with await conn.cursor() as cursor:
                await cursor.execute(select_by_id, [coupon_id])
                row = await cursor.fetchone()
        finally:
            await conn.close()  # back to the async pool
        return None if row is None else raw.coupon_from_row(row)

    ids = [
        uuid.UUID(str(i))
        for (i,) in await in_worker(
            lambda: (
                connection.cursor()
                .execute("SELECT id FROM coupons_coupon ORDER BY random() LIMIT 200")
                .fetchall()
            )
        )()
    ]
    assert ids, "seed the database first (make bench)"
    # Both paths answer the same coupon.
    fields = [f.attname for f in raw.Coupon._meta.concrete_fields]
    a, b = await fresh(threaded(ids[0])), await fresh(in_loop(ids[0]))
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    for unit in (threaded, in_loop):  # warm-up: pools filled, code paths hot
        await run(unit, ids)
    print(f"load average {load_average()}; "
          f"{UNITS} units, {CONCURRENCY} concurrent, pool max {settings.DATABASES['default']['OPTIONS']['pool']['max_size']}")  # fmt: skip
    for round_ in range(1, ROUNDS + 1):
        for name, unit in (("in_worker (thread hop)", threaded), ("django-async-backend", in_loop)):
            wall, cpu = await run(unit, ids)
            print(f"round {round_}  {name:24} {UNITS / wall:8.0f} units/s  "
                  f"{cpu / UNITS * 1e6:6.0f} µs CPU/unit")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
