"""The processes of `make bench` (bench/run.py): the servers it starts and stops, wrk, psql,
and what it reads of them (CPU time, RSS, the coupons' invariant)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from bench.scenarios import REPORT_CAMPAIGN_ID

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/coupons_bench"
)
LOG_DIR = Path(tempfile.mkdtemp(prefix="coupon-bench-"))


def sh(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, text=True, capture_output=True, **kw)


def django_env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": DATABASE_URL, "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}  # fmt: skip


def psql(sql: str) -> str:
    return sh("psql", DATABASE_URL, "-Atc", sql).stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app: str, key: str, workers: str = "1") -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**django_env(), "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": workers,
           "PYTHON": PY, "ASGI_APP": app, "BENCH_KEYS": key, "PYTHONPATH": str(ROOT)}  # fmt: skip
    log = LOG_DIR / f"{app.split(':')[0]}.log"
    proc = subprocess.Popen(
        [str(ROOT / "bin/serve")],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    # A minute: two workers importing Django on a loaded 2-core machine took over 15 s.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break  # exited: no use waiting out the minute
        try:
            urllib.request.urlopen(f"{url}/v1/coupons/?page_size=1", timeout=1)
        except urllib.error.HTTPError:
            return proc, url  # answering (401 without a key)
        except OSError:
            time.sleep(0.1)
            continue
        return proc, url
    if proc.poll() is None:
        stop(proc)
    # The server's stderr goes to its log file (stderr=STDOUT above), not to a pipe.
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    raise SystemExit(f"{app} did not start (log: {log}):\n{tail}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def group_pids(proc: subprocess.Popen) -> list[Path]:
    found = []
    for pid_dir in Path("/proc").iterdir():
        if pid_dir.name.isdigit():
            try:
                if os.getpgid(int(pid_dir.name)) == proc.pid:
                    found.append(pid_dir)
            except (OSError, ProcessLookupError):
                continue
    return found


def cpu_seconds(proc: subprocess.Popen) -> float:
    """CPU time (user + system) of the server's processes so far: per request, a figure that
    other work on a shared machine moves much less than the rate."""
    total = 0
    for pid_dir in group_pids(proc):
        try:
            fields = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def worker_rss_mb(proc: subprocess.Popen) -> list[float]:
    """RSS of each process in the server's group (the uvicorn worker(s), and the
    supervisor when there are several workers)."""
    rss = []
    for pid_dir in group_pids(proc):
        try:
            status = (pid_dir / "status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            rss.append(int(match.group(1)) / 1024)
    return rss


def wrk_command(url: str, script: Path, kind: str, key: str, ids: list[str], seconds: int,
                connections: int = CONNECTIONS, timeout: int = 10) -> list[str]:  # fmt: skip
    """wrk's command line; answers slower than `timeout` seconds are left out of its
    latencies (and each in flight over it is counted at every 2 s check as a timeout)."""
    run = uuid.uuid4().hex[:10]  # codes made by "create" are unique across runs
    ids = [REPORT_CAMPAIGN_ID] if kind == "report" else ids
    return ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{timeout}s", "--latency",
            "-s", str(script), url, "--", run, key, kind, *ids]  # fmt: skip


def parsed(out: str) -> dict:
    return json.loads(out.split("RESULT ", 1)[1].splitlines()[0])


def wrk(url: str, script: Path, kind: str, key: str, ids: list[str], seconds: int) -> dict:
    return parsed(sh(*wrk_command(url, script, kind, key, ids, seconds)).stdout)


def broken_invariants() -> str:
    return psql("""SELECT count(*) FROM coupons_coupon c
                   WHERE c.remaining_count < 0 OR c.init_count - c.remaining_count <>
                     (SELECT count(*) FROM coupons_redemption r
                      WHERE r.coupon_id = c.id AND r.reverted_at IS NULL)
                     + (SELECT count(*) FROM coupons_reservation h
                        WHERE h.coupon_id = c.id AND h.status = 'held')""")
