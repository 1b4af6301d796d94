"""Webhook throughput to ONE endpoint: a backlog of events (WEBHOOK_BENCH_EVENTS, default
400) delivered by real `manage.py run_worker` processes (WEBHOOK_BENCH_WORKERS, default 1)
to one local receiver; prints deliveries per second, from the first POST to the last.

    DATABASE_URL=postgres://... .venv/bin/python bench/webhooks.py

Bounded: the workers are stopped after WEBHOOK_BENCH_TIMEOUT seconds (default 120) at the
latest; the endpoint it made (and its deliveries) is deleted at the end. The database is
migrated first; the log's other events stay where they are.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = int(os.environ.get("WEBHOOK_BENCH_EVENTS", "400"))
WORKERS = int(os.environ.get("WEBHOOK_BENCH_WORKERS", "1"))
TIMEOUT = float(os.environ.get("WEBHOOK_BENCH_TIMEOUT", "120"))
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
    "WEBHOOK_INTERVAL_SECONDS": "0.2",
    "SWEEP_INTERVAL_SECONDS": "60",
    "LOG_LEVEL": "WARNING",
}


class Arrivals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.ids: list[str] = []

    def add(self, event_id: str) -> None:
        with self.lock:
            self.times.append(time.monotonic())
            self.ids.append(event_id)


def receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrivals.add(self.headers["Coupon-Event-Id"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=ENV, check=True, timeout=300,
    )  # fmt: skip
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import transaction

    from events.services.outbox import record_event
    from webhooks.services.endpoints import create_endpoint
    from webhooks.services.fanout import fan_out_events

    # Whatever is already in the log is fanned out before the endpoint exists.
    while fan_out_events():
        pass
    arrivals = Arrivals()
    server = receiver(arrivals)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    endpoint = create_endpoint(url=url, events=["redemption.created"])
    logs = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    workers: list[subprocess.Popen[bytes]] = []
    try:
        ids = []
        for n in range(EVENTS // 2):  # transactions of two events, as the burst test's
            with transaction.atomic():
                for m in range(2):
                    ids.append(str(record_event("redemption.created", {"n": 2 * n + m}).id))
        for n in range(WORKERS):
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "run_worker", "--poll", "0.1"],
                cwd=ROOT, env=ENV, stdout=(logs / f"worker-{n}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            workers.append(worker)
        deadline = time.monotonic() + TIMEOUT
        while len(set(arrivals.ids)) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # any late duplicate
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        server.shutdown()
        endpoint_model = type(endpoint)
        endpoint_model.objects.filter(pk=endpoint.pk).delete()

    received = Counter(arrivals.ids)
    delivered = len(set(received) & set(ids))
    seconds = (arrivals.times[-1] - arrivals.times[0]) if len(arrivals.times) > 1 else 0.0
    duplicates = sum(times - 1 for times in received.values())
    rate = (delivered - 1) / seconds if seconds else 0.0
    print(
        f"{delivered} of {len(ids)} delivered to one endpoint by {WORKERS} worker(s) in "
        f"{seconds:.1f} s (first POST to last): {rate:.1f} deliveries/s; "
        f"{duplicates} duplicate(s); worker logs in {logs}"
    )


if __name__ == "__main__":
    main()
