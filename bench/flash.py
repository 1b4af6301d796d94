"""The flash sale of `make bench` (bench/run.py): thousands of shoppers on one code at once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bench import scenarios
from bench.harness import broken_invariants, parsed, psql, sh, start, stop, wrk_command

FLASH_SECONDS = int(os.environ.get("BENCH_FLASH_SECONDS", "300"))  # a cap: it stops sold out


SERVICE, YARDSTICK = "config.asgi:application", "bench.yardstick:app"


def flash_sale(key: str, script: Path, ids: list[str], app: str = SERVICE) -> dict:
    """One code of FLASH_USES uses, 512 connections on two workers of `app`, every request
    with its own Idempotency-Key, until it is sold out: exactly FLASH_USES sold (rows
    counted), every other answer a 409 coupon_exhausted, no error; else it fails loudly.
    The code is put back as new first, so that bench/run.py's two sales start alike: the
    yardstick's (the same spend on the same row, no key, no event: what any server on
    this machine would reach) and the service's."""
    psql("""DELETE FROM coupons_redemption
               WHERE coupon_id = (SELECT id FROM coupons_coupon WHERE code = 'FLASH');
             UPDATE coupons_coupon SET remaining_count = init_count WHERE code = 'FLASH'""")
    proc, url = start(app, key, "2")
    try:
        sh(*wrk_command(url, script, "validate", key, ids, 2, connections=512))  # warm-up
        began = time.time()
        cmd = wrk_command(
            url, script, "flash", key, ids, FLASH_SECONDS, connections=512, timeout=120
        )
        run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Each wrk thread stops at its first 409; wrk itself sleeps out -d unless interrupted.
        while (
            run.poll() is None
            and psql("SELECT remaining_count FROM coupons_coupon WHERE code = 'FLASH'") != "0"
        ):
            time.sleep(0.2)
        time.sleep(1)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
    finally:
        stop(proc)
    result = parsed(out)
    sold, last = psql("""SELECT count(*), coalesce(extract(epoch FROM max(r.redeemed_at)), 0)
        FROM coupons_redemption r JOIN coupons_coupon c ON c.id = r.coupon_id
        WHERE c.code = 'FLASH' AND r.reverted_at IS NULL""").split("|")  # fmt: skip
    result.update(sold=int(sold), sell_out_s=float(last) - began)
    problems = []
    if result["sold"] != scenarios.FLASH_USES:
        problems.append(f"{sold} sold, not {scenarios.FLASH_USES}")
    if result["ok"] > scenarios.FLASH_USES:
        problems.append(f"{result['ok']} answers 201 for {scenarios.FLASH_USES} uses")
    # A wrk timeout (a request in flight over its --timeout) is not an error: the answer
    # still comes and is counted; p99 says how slow.
    result["socket_errors"] -= result["timeouts"]
    if result["other"] or result["socket_errors"]:
        problems.append(f"{result['other']} answers neither 2xx nor 409 coupon_exhausted, "
                        f"{result['socket_errors']} socket errors ({err.strip()[:600]})")  # fmt: skip
    if broken_invariants() != "0":
        problems.append(f"invariant broken on {broken_invariants()} coupon(s)")
    if problems:
        raise SystemExit(f"FLASH SALE FAILED: {'; '.join(problems)} (wrk: {result})")
    return result
