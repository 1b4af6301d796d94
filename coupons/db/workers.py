"""The threads that run the API's database work, one unit of work per hop.

Django's ORM is sync and `transaction.atomic` cannot be used in `async def`, so every
unit of work is one sync function run here through ONE `sync_to_async` hop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections


def releasing_connections[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    def unit(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            # Back to the pool at once, and forget the wrapper: the next unit may run in
            # another worker thread, and Django's connection wrappers belong to one thread.
            for alias in connections:
                if connections[alias].connection is not None:
                    connections[alias].close()
                del connections[alias]

    return unit


# As many threads as pooled connections: the event loop's default executor has only
# cores + 4 threads (docs/performance.md).
_DB_WORKERS = ThreadPoolExecutor(
    max_workers=settings.DB_WORKER_THREADS, thread_name_prefix="db-worker"
)


def in_worker[**P, R](fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`fn` as a coroutine function running in the database worker threads.

    Not thread-sensitive: Django would otherwise start a thread for every request (its
    per-request ThreadSensitiveContext) and run each hop there. A unit of work holds a
    pooled connection only while it runs, so no connection leaks between threads.
    """
    return sync_to_async(releasing_connections(fn), thread_sensitive=False, executor=_DB_WORKERS)
