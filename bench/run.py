"""`make bench`: the production server against PostgreSQL under wrk, beside the bare ASGI
yardstick (bench/yardstick.py) doing the same SQL, in one invocation; one table out.

Loopback only, bounded (BENCH_SECONDS per scenario, default 8). Fails loudly if a
redemption scenario breaks the invariant (no oversell, counts match rows) or if any
scenario sees errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
# The full table runs on the first count; each further count (a 2-worker run by default)
# adds its own columns for the MAIN scenarios, beside it.
WORKERS = [w.strip() for w in os.environ.get("BENCH_WORKERS", "1,2").split(",") if w.strip()]
# BENCH_ONLY=get,create,... runs only those scenarios (their `kind`s): for A/B rounds.
ONLY = {k.strip() for k in os.environ.get("BENCH_ONLY", "").split(",") if k.strip()}
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/coupons_bench"
)
SPREAD = 10_000
LOG_DIR = Path(tempfile.mkdtemp(prefix="coupon-bench-"))

LUA = r"""
local paths, n, threads, held = {}, 0, 0, {}
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args)
  run = args[1]; wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  for i = 3, #args do paths[#paths + 1] = args[i] end
  kind = paths[1]
end
function request()
  n = n + 1
  if kind == "hold" then
    -- A hold answered on any of this thread's connections is confirmed by the next request.
    local id = table.remove(held)
    if id then return wrk.format("POST", "/v1/reservations/" .. id .. "/confirm/", nil, "{}") end
    return wrk.format("POST", "/v1/reservations/", nil,
      string.format('{"code":"spread-%05d","ttl_seconds":600}', math.random(1, SPREAD)))
  elseif kind == "create" then
    return wrk.format("POST", "/v1/coupons/", nil,
      '{"code":"B' .. run .. '-' .. tid .. '-' .. n .. '","init_count":100}')
  elseif kind == "hot" then
    return wrk.format("POST", "/v1/redemptions/", nil, '{"code":"hot"}')
  elseif kind == "hot-off" then
    return wrk.format("POST", "/v1/redemptions/", nil, string.format(
      '{"code":"hot-off","order":{"amount":%d,"currency":"EUR"}}', math.random(2000, 100000)))
  elseif kind == "spread" then
    return wrk.format("POST", "/v1/redemptions/", nil,
      string.format('{"code":"spread-%05d"}', math.random(1, SPREAD)))
  elseif kind == "campaign" then
    return wrk.format("POST", "/v1/redemptions/", nil,
      string.format('{"code":"camp-%05d"}', math.random(1, SPREAD)))
  elseif kind == "validate" then
    return wrk.format("POST", "/v1/validations/", nil,
      string.format('{"code":"spread-%05d"}', math.random(1, SPREAD)))
  elseif kind == "list" then
    return wrk.format("GET", "/v1/coupons/?page_size=50")
  else
    return wrk.format("GET", "/v1/coupons/" .. paths[(n % (#paths - 1)) + 2] .. "/")
  end
end
function response(status, headers, body)
  if kind == "hold" and status == 201 and body:find('"status"%s*:%s*"held"') then
    held[#held + 1] = body:match('^{%s*"id"%s*:%s*"([%x%-]+)"')
  end
end
function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    non2xx, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
""".replace("SPREAD", str(SPREAD))

SCENARIOS = [
    ("GET coupon by id", "get"),
    ("POST create coupon", "create"),
    ("POST redemption, one hot coupon", "hot"),
    ("POST redemption, discounted", "hot-off"),
    ("POST redemption, 10,000 coupons", "spread"),
    # The same requests over 10,000 codes of ONE campaign: every one updates its row.
    ("POST redemption, one campaign's codes", "campaign"),
    # Requests, not pairs: each hold's 201 is followed by its confirm (pairs = half).
    ("hold then confirm, 10,000 coupons", "hold"),
    ("POST validation", "validate"),
    ("GET list page (50)", "list"),
]
SCENARIOS = [(title, kind) for title, kind in SCENARIOS if not ONLY or kind in ONLY]
# The scenarios a run with more workers repeats.
MAIN = {"get", "create", "hot", "spread", "hold"}


def sh(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, text=True, capture_output=True, **kw)


def django_env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": DATABASE_URL, "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}  # fmt: skip


def psql(sql: str) -> str:
    return sh("psql", DATABASE_URL, "-Atc", sql).stdout.strip()


def prepare() -> tuple[str, list[str]]:
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    name = DATABASE_URL.rsplit("/", 1)[1]
    sh("psql", admin_url, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sh("psql", admin_url, "-c", f'CREATE DATABASE "{name}"')
    sh(PY, "manage.py", "migrate", "-v0", cwd=ROOT, env=django_env())
    key = sh(PY, "manage.py", "create_api_key", "bench", "--scope", "manage", cwd=ROOT,
             env=django_env()).stdout.strip().splitlines()[-1]  # fmt: skip
    psql(f"""INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
               created_at, updated_at)
             SELECT gen_random_uuid(), 'SPREAD-' || lpad(g::text, 5, '0'), 1000000000, 1000000000,
               true, now() - (g || ' ms')::interval, now()
             FROM generate_series(1, {SPREAD}) g;
             INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
               created_at, updated_at)
             VALUES (gen_random_uuid(), 'HOT', 1000000000, 1000000000, true, now(), now());
             INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
               created_at, updated_at, discount_percent_off, discount_currency,
               discount_max_amount_off, discount_min_order_amount)
             VALUES (gen_random_uuid(), 'HOT-OFF', 1000000000, 1000000000, true, now(), now(),
               12.5, 'EUR', 5000, 2000);
             INSERT INTO coupons_campaign (id, name, is_active, redemption_count, held_count,
               discount_total, metadata, created_at, updated_at)
             VALUES ('00000000-0000-4000-8000-00000000ca4e', 'bench', true, 0, 0, 0, '{{}}',
               now(), now());
             INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
               created_at, updated_at, campaign_id)
             SELECT gen_random_uuid(), 'CAMP-' || lpad(g::text, 5, '0'), 1000000000, 1000000000,
               true, now() - (g || ' ms')::interval, now(), '00000000-0000-4000-8000-00000000ca4e'
             FROM generate_series(1, {SPREAD}) g;
             ANALYZE""")  # fmt: skip
    ids = psql("SELECT id FROM coupons_coupon ORDER BY random() LIMIT 200").split()
    return key, ids


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
    for _ in range(150):
        if proc.poll() is not None:
            break  # exited: no use waiting out the 15 s
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


def wrk(url: str, script: Path, kind: str, key: str, ids: list[str], seconds: int) -> dict:
    run = uuid.uuid4().hex[:10]  # codes made by "create" are unique across runs
    out = sh("wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script),
             url, "--", run, key, kind, *ids).stdout  # fmt: skip
    return json.loads(out.split("RESULT ", 1)[1].splitlines()[0])


def wrong_discounts() -> str:
    """Discounted redemptions whose recorded amount is not 12.5 % of the order, capped at
    5000 (HOT-OFF's discount; discount_for's arithmetic restated for the check)."""
    return psql("""SELECT count(*) FROM coupons_redemption r JOIN coupons_coupon c
                     ON c.id = r.coupon_id AND c.code = 'HOT-OFF'
                   WHERE r.discount_amount IS DISTINCT FROM
                     LEAST(5000, ROUND(r.order_amount * 0.125))::bigint""")


def broken_invariants() -> str:
    return psql("""SELECT count(*) FROM coupons_coupon c
                   WHERE c.remaining_count < 0 OR c.init_count - c.remaining_count <>
                     (SELECT count(*) FROM coupons_redemption r
                      WHERE r.coupon_id = c.id AND r.reverted_at IS NULL)
                     + (SELECT count(*) FROM coupons_reservation h
                        WHERE h.coupon_id = c.id AND h.status = 'held')""")


def broken_campaign_counters() -> str:
    return psql("""SELECT count(*) FROM coupons_campaign k
                   WHERE k.redemption_count <> (SELECT count(*) FROM coupons_redemption r
                     JOIN coupons_coupon c ON c.id = r.coupon_id
                     WHERE c.campaign_id = k.id AND r.reverted_at IS NULL)""")


def run_all(
    url: str,
    script: Path,
    key: str,
    ids: list[str],
    kinds: set[str] | None = None,
    *,
    name: str,
    proc: subprocess.Popen,
) -> dict[str, dict]:
    results = {}
    for title, kind in SCENARIOS:
        if kinds is not None and kind not in kinds:
            continue
        wrk(url, script, kind, key, ids, 2)  # warm-up
        cpu = cpu_seconds(proc)
        results[title] = result = wrk(url, script, kind, key, ids, SECONDS)
        result["cpu_us"] = (cpu_seconds(proc) - cpu) / max(result["requests"], 1) * 1e6
        # Checked at the end of every scenario, so a failure names the one that broke it.
        if broken_invariants() != "0":
            raise SystemExit(f"INVARIANT BROKEN after {title!r}: {broken_invariants()} coupon(s)")
        if result["status_errors"] + result["socket_errors"]:
            print(f"bench: {name}, {title!r}: {result['status_errors']} non-2xx answers, "
                  f"{result['socket_errors']} socket errors", flush=True)  # fmt: skip
        if kind == "campaign" and broken_campaign_counters() != "0":
            raise SystemExit(f"CAMPAIGN COUNTERS BROKEN after {title!r}")
        if kind == "hot-off" and wrong_discounts() != "0":
            raise SystemExit(f"WRONG DISCOUNTS after {title!r}: {wrong_discounts()} redemption(s)")
    return results


def errors_in(results: dict[str, dict]) -> int:
    return sum(r["status_errors"] + r["socket_errors"] for r in results.values())


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    load_before = load()
    key, ids = prepare()
    tmp = Path(tempfile.mkdtemp())
    script = tmp / "bench.lua"
    script.write_text(LUA)
    proc, url = start("bench.yardstick:app", key)
    try:
        bare = run_all(url, script, key, ids, name="yardstick", proc=proc)
    finally:
        stop(proc)
    proc, url = start("config.asgi:application", key, WORKERS[0])
    try:
        ours = run_all(url, script, key, ids, name="service", proc=proc)
        rss_1 = worker_rss_mb(proc)
        # A second round on the same processes: is the RSS flat?
        again = run_all(url, script, key, ids, name="service, round 2", proc=proc)
        rss_2 = worker_rss_mb(proc)
    finally:
        stop(proc)
    more: dict[str, dict[str, dict]] = {}
    for workers in WORKERS[1:]:
        proc, url = start("config.asgi:application", key, workers)
        try:
            more[workers] = run_all(
                url, script, key, ids, MAIN, name=f"{workers} workers", proc=proc
            )
        finally:
            stop(proc)
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    print(f"\n{os.cpu_count()} cores ({cpu.group(1) if cpu else '?'}), wrk -t2 -c{CONNECTIONS} "
          f"-d{SECONDS}s, {WORKERS[0]} worker process, PostgreSQL {psql('SHOW server_version')}; "
          f"load average before {load_before}, after {load()}\n")  # fmt: skip
    head = f"{'scenario':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'yardstick':>10} {'ratio':>6} {'CPU µs/req':>10}"
    head += "".join(f" {f'{w}w req/s':>10} {f'{w}w p99':>8}" for w in more)
    print(head)
    print("-" * len(head))
    for title, _ in SCENARIOS:
        r, b = ours[title], bare[title]
        rps, bare_rps = r["requests"] / r["seconds"], b["requests"] / b["seconds"]
        err = r["status_errors"] + r["socket_errors"]
        line = (f"{title:38} {rps:8.0f} {r['p50']:8.1f} {r['p99']:8.1f} {err:7d} {bare_rps:10.0f} "
                f"{rps / bare_rps:6.2f} {r['cpu_us']:10.0f}")  # fmt: skip
        for results in more.values():
            m = results.get(title)
            line += (
                f" {m['requests'] / m['seconds']:10.0f} {m['p99']:8.1f}"
                if m
                else f" {'':10} {'':8}"
            )
        print(line)
    print(f"\nworker RSS after round 1: {', '.join(f'{m:.0f} MB' for m in rss_1)}; "
          f"after round 2: {', '.join(f'{m:.0f} MB' for m in rss_2)}")  # fmt: skip
    print(f"invariant (init - remaining = live redemptions + held holds) broken on "
          f"{broken_invariants()} coupons")  # fmt: skip
    errors = errors_in(ours) + errors_in(again) + errors_in(bare)
    errors += sum(errors_in(results) for results in more.values())
    print(f"errors (non-2xx or socket, every run incl. the yardstick and round 2): {errors}")
    if errors:
        raise SystemExit(f"{errors} errors")


if __name__ == "__main__":
    main()
