"""`make bench`: the production server against PostgreSQL under wrk, beside the bare ASGI
yardstick (bench/yardstick.py) doing the same SQL, in one invocation; one table out.

Loopback only, bounded (BENCH_SECONDS per scenario, default 8). Fails loudly if a
redemption scenario breaks the invariant (no oversell, counts match rows) or if any
scenario sees errors. Carts, groups and the report are measured against the single-code
scenario they extend (bench/scenarios.py); the flash sale (bench/flash.py) runs last.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench import scenarios
from bench.flash import YARDSTICK, flash_sale
from bench.harness import (
    CONNECTIONS,
    DATABASE_URL,
    PY,
    ROOT,
    broken_invariants,
    cpu_seconds,
    django_env,
    psql,
    sh,
    start,
    stop,
    worker_rss_mb,
    wrk,
)
from bench.scenarios import CAMPAIGN_ID, SPREAD

SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
# The full table runs on the first count; each further count (a 2-worker run by default)
# adds its own columns, beside it.
WORKERS = [w.strip() for w in os.environ.get("BENCH_WORKERS", "1,2").split(",") if w.strip()]
# BENCH_ONLY=get,create,... runs only those scenarios (their `kind`s, and the ones they are
# measured against), or `flash` (the flash sale): for A/B rounds.
ONLY = {k.strip() for k in os.environ.get("BENCH_ONLY", "").split(",") if k.strip()}

LUA = (Path(__file__).parent / "load.lua").read_text().replace("SPREAD", str(SPREAD))
for _kind in ("cart-validate", "cart-redeem", "group", "flash"):
    LUA = LUA.replace(
        _kind.upper().replace("-", "_") + "_BODY", f'"{scenarios.lua_template(_kind)}"'
    )

# (title, kind, base): a scenario's ratio is to the yardstick doing the same requests
# (base None), or to another scenario of the service in the same run (its kind): a cart or a
# group beside the single-code request it extends, over as many codes.
SCENARIOS = [
    ("GET coupon by id", "get", None),
    ("POST create coupon", "create", None),
    ("POST redemption, one hot coupon", "hot", None),
    ("POST redemption, discounted", "hot-off", None),
    ("POST redemption, 10,000 coupons", "spread", None),
    # The same requests over 10,000 codes of ONE campaign: every one updates its row.
    ("POST redemption, one campaign's codes", "campaign", None),
    # Requests, not pairs: each hold's 201 is followed by its confirm (pairs = half).
    ("hold then confirm, 10,000 coupons", "hold", None),
    ("POST validation", "validate", None),
    ("GET list page (50)", "list", None),
    # 10 lines, 15 % off the shoes among them, over 10,000 such codes.
    ("POST validation, 10-line cart", "cart-validate", "validate"),
    ("POST redemption, 10-line cart", "cart-redeem", "spread"),
    # Two combinable codes (a product and an order discount) on the same 10-line cart.
    ("POST redemption group, two codes", "group", "spread"),
    # A campaign of 200 codes and 30,000 redemptions over 90 days: the last 30, by day.
    ("GET campaign report (30 days)", "report", ""),
]
if ONLY:
    wanted = ONLY | {base for _, kind, base in SCENARIOS if kind in ONLY and base}
    SCENARIOS = [scenario for scenario in SCENARIOS if scenario[1] in wanted]
# The yardstick serves the scenarios measured against it; the report has no ratio.
BARE = {kind for _, kind, base in SCENARIOS if base is None}
FLASH = not ONLY or "flash" in ONLY


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
             VALUES ('{CAMPAIGN_ID}', 'bench', true, 0, 0, 0, '{{}}',
               now(), now());
             INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,
               created_at, updated_at, campaign_id)
             SELECT gen_random_uuid(), 'CAMP-' || lpad(g::text, 5, '0'), 1000000000, 1000000000,
               true, now() - (g || ' ms')::interval, now(), '{CAMPAIGN_ID}'
             FROM generate_series(1, {SPREAD}) g""")  # fmt: skip
    sh(PY, "manage.py", "shell", "-c", scenarios.templates_script(), cwd=ROOT, env=django_env())
    psql(scenarios.seed_sql() + "; ANALYZE")
    ids = psql("SELECT id FROM coupons_coupon ORDER BY random() LIMIT 200").split()
    return key, ids


def wrong_discounts() -> str:
    """Discounted redemptions whose recorded amount is not 12.5 % of the order, capped at
    5000 (HOT-OFF's discount; discount_for's arithmetic restated for the check)."""
    return psql("""SELECT count(*) FROM coupons_redemption r JOIN coupons_coupon c
                     ON c.id = r.coupon_id AND c.code = 'HOT-OFF'
                   WHERE r.discount_amount IS DISTINCT FROM
                     LEAST(5000, ROUND(r.order_amount * 0.125))::bigint""")


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
    for title, kind, _ in SCENARIOS:
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
        if broken := scenarios.broken_after(kind, psql):
            raise SystemExit(f"BROKEN after {title!r}: {broken}")
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
    errors = table(key, ids, script, load_before) if SCENARIOS else 0
    if FLASH:
        floor = flash_sale(key, script, ids, YARDSTICK)
        flash = flash_sale(key, script, ids)
        print(f"\nflash sale ({scenarios.FLASH_USES:,} uses of one code, wrk -t2 -c512, 2 workers, an "
              f"Idempotency-Key per request): {flash['sold']:,} sold in {flash['sell_out_s']:.1f} s "
              f"({flash['sold'] / flash['sell_out_s']:.0f}/s), p50 {flash['p50']:.1f} ms, p99 "
              f"{flash['p99']:.1f} ms; answers: {flash['ok']:,} 201, {flash['exhausted']:,} 409 "
              f"coupon_exhausted, {flash['other']} other, {flash['socket_errors']} socket errors, "
              f"{flash['timeouts']} wrk timeouts (over 120 s); "
              f"load average after {load()}")  # fmt: skip
        print(f"the yardstick's sale (the same spend, no key, no event): sold in "
              f"{floor['sell_out_s']:.1f} s ({floor['sold'] / floor['sell_out_s']:.0f}/s), p50 "
              f"{floor['p50']:.1f} ms, p99 {floor['p99']:.1f} ms; the service's rate "
              f"{floor['sell_out_s'] / flash['sell_out_s']:.2f} of it")  # fmt: skip
    if errors:
        raise SystemExit(f"{errors} errors")


def table(key: str, ids: list[str], script: Path, load_before: str) -> int:
    """Every scenario on the yardstick, the service (twice) and the service with more
    workers; prints the table, returns the errors seen."""
    proc, url = start("bench.yardstick:app", key)
    try:
        bare = run_all(url, script, key, ids, BARE, name="yardstick", proc=proc)
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
            more[workers] = run_all(url, script, key, ids, name=f"{workers} workers", proc=proc)
        finally:
            stop(proc)
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    print(f"\n{os.cpu_count()} cores ({cpu.group(1) if cpu else '?'}), wrk -t2 -c{CONNECTIONS} "
          f"-d{SECONDS}s, {WORKERS[0]} worker process, PostgreSQL {psql('SHOW server_version')}; "
          f"load average before {load_before}, after {load()}\n")  # fmt: skip
    head = f"{'scenario':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'base':>16} {'ratio':>6} {'CPU µs/req':>10}"
    head += "".join(f" {f'{w}w req/s':>10} {f'{w}w p99':>8}" for w in more)
    print(head)
    print("-" * len(head))
    rate = {kind: ours[title]["requests"] / ours[title]["seconds"] for title, kind, _ in SCENARIOS}
    for title, kind, base in SCENARIOS:
        r = ours[title]
        rps, err = rate[kind], r["status_errors"] + r["socket_errors"]
        if base is None:
            base_rps, shown = bare[title]["requests"] / bare[title]["seconds"], "yardstick"
        else:  # another scenario's rate (or none: "")
            base_rps, shown = rate.get(base, 0), base
        ratio = f"{rps / base_rps:6.2f}" if base_rps else f"{'':6}"
        line = (f"{title:38} {rps:8.0f} {r['p50']:8.1f} {r['p99']:8.1f} {err:7d} "
                f"{f'{base_rps:.0f} {shown}' if base_rps else '':>16} {ratio} {r['cpu_us']:10.0f}")  # fmt: skip
        for results in more.values():
            m = results[title]
            line += f" {m['requests'] / m['seconds']:10.0f} {m['p99']:8.1f}"
        print(line)
    print(f"\nworker RSS after round 1: {', '.join(f'{m:.0f} MB' for m in rss_1)}; "
          f"after round 2: {', '.join(f'{m:.0f} MB' for m in rss_2)}")  # fmt: skip
    print(f"invariant (init - remaining = live redemptions + held holds) broken on "
          f"{broken_invariants()} coupons")  # fmt: skip
    errors = errors_in(ours) + errors_in(again) + errors_in(bare)
    errors += sum(errors_in(results) for results in more.values())
    print(f"errors (non-2xx or socket, every run incl. the yardstick and round 2): {errors}")
    return errors


if __name__ == "__main__":
    main()
