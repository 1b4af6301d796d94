"""The threads that run the API's database work, one unit of work per hop.

Django's ORM is sync and `transaction.atomic` cannot be used in `async def`, so every
unit of work is one sync function run here through ONE hop to a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections


def releasing_connections[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    def unit(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            # The connection goes back to the pool at once: a unit holds one only while it
            # runs. The wrapper stays: Django's connection wrappers are thread-local in a
            # sync thread (asgiref's thread-critical Local), so it is this thread's own.
            for conn in connections.all(initialized_only=True):
                if conn.connection is not None:
                    conn.close()

    return unit


# As many threads as pooled connections: the event loop's default executor has only
# cores + 4 threads (docs/performance.md).
_DB_WORKERS = ThreadPoolExecutor(
    max_workers=settings.DB_WORKER_THREADS, thread_name_prefix="db-worker"
)


def in_worker[**P, R](fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`fn` as a coroutine function running in the database worker threads.

    The executor directly, not asgiref's `sync_to_async`: that one's bookkeeping (a
    thread-sensitive mode these units do not use, re-homing every context variable, a
    shield, exception-info replay) cost about a tenth of a GET's event-loop time
    (docs/performance.md). What it guaranteed is kept: the unit sees the caller's context
    variables (a copy), and a unit that has started always runs to its end, even when the
    request is cancelled: a cancelled caller waits for it, then stops.
    """
    unit = releasing_connections(fn)

    @functools.wraps(fn)
    async def hop(*args: P.args, **kwargs: P.kwargs) -> R:
        call = functools.partial(unit, *args, **kwargs)
        running = _DB_WORKERS.submit(contextvars.copy_context().run, call)
        try:
            return await asyncio.wrap_future(running)
        except asyncio.CancelledError:
            if not running.cancelled():  # it started: its transaction ends before we stop
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(running)
            raise

    return hop
