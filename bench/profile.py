"""Profile the service under `make bench`'s load with py-spy: one worker on the bench's
database (seeded by a `make bench` run before; BENCH_DATABASE_URL), each scenario under wrk
while py-spy samples the worker twice, holding the GIL (`--gil`) and by wall clock
(`--idle`: every thread, waiting or not); prints the top functions, self and total.

    .venv/bin/python -m bench.profile get create cart-redeem group   # kinds of bench/run.py

Needs py-spy in the venv (`uv pip install py-spy`) and ptrace rights (root, or
kernel.yama.ptrace_scope=0). The raw stacks stay in PROFILE_DIR (default a temp dir).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import run
from bench.harness import PY, ROOT, django_env, group_pids, sh, start, stop, wrk_command

SECONDS = int(os.environ.get("PROFILE_SECONDS", "15"))
OUT = Path(os.environ.get("PROFILE_DIR") or tempfile.mkdtemp(prefix="coupon-profile-"))
SPY = str(ROOT / ".venv/bin/py-spy")
SCAFFOLDING = tuple(f"({module})" for module in (
    "<frozen runpy>", "click/core.py", "uvicorn/main.py", "uvicorn/server.py",
    "uvicorn/__main__.py", "uvicorn/protocols/http/httptools_impl.py", "asyncio/runners.py",
    "asyncio/base_events.py", "asyncio/events.py", "threading.py",
    "concurrent/futures/thread.py", "uvicorn/middleware/proxy_headers.py",
    "config/body_limit.py", "config/handler.py", "django/core/handlers/asgi.py",
    "django/core/handlers/base.py", "django/core/handlers/exception.py", "core/workers.py",
))  # fmt: skip


def top(raw: Path, n: int = 10) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The `n` functions with the most samples on top of the stack (self) and anywhere in
    it (total, once per stack, less those in 90 % of samples or more), as shares of all
    samples, from py-spy's raw output."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            anywhere[frame] += int(count)
    share = max(samples, 1) / 100
    # Total: past the frames every request passes through (the loop, the threads' entry,
    # the server and handler layers), which would fill the list.
    inner = [(f, c / share) for f, c in anywhere.most_common() if not f.endswith(SCAFFOLDING)]
    return [(f, c / share) for f, c in own.most_common(n)], inner[:n]


def show(raw: Path) -> None:
    own, total = top(raw)
    print(f"{'self %':>7}  function" + " " * 53 + f"{'total %':>8}  function")
    for (f1, s1), (f2, s2) in zip(own, total, strict=False):
        print(f"{s1:7.1f}  {f1[:60]:60} {s2:8.1f}  {f2[:90]}")


def main(kinds: list[str]) -> None:
    key = sh(PY, "manage.py", "create_api_key", "profile", "--scope", "manage", cwd=ROOT,
             env=django_env()).stdout.strip().splitlines()[-1]  # fmt: skip
    ids = run.psql("SELECT id FROM coupons_coupon ORDER BY random() LIMIT 200").split()
    script = OUT / "load.lua"
    script.write_text(run.LUA)
    proc, url = start("config.asgi:application", key, "1")
    try:
        worker = str(max(int(p.name) for p in group_pids(proc)))  # uvicorn's own process
        for kind in kinds:
            run.wrk(url, script, kind, key, ids, 2)  # warm-up
            for mode in ("gil", "idle"):
                load = subprocess.Popen(
                    wrk_command(url, script, kind, key, ids, SECONDS + 3),
                    stdout=subprocess.DEVNULL,
                )
                time.sleep(1)
                raw = OUT / f"{kind}-{mode}.txt"
                command = [SPY, "record", f"--{mode}", "--nolineno", "--format", "raw",
                           "-r", "250", "-d", str(SECONDS), "-p", worker, "-o", str(raw)]  # fmt: skip
                sh(*command)
                load.wait()
                print(f"\n## {kind}, {mode}: {' '.join(command[1:])}")
                show(raw)
    finally:
        stop(proc)
    print(f"\nraw stacks: {OUT}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--show"]:  # summarize raw files again: --show FILE...
        for raw in sys.argv[2:]:
            print(f"\n## {raw}")
            show(Path(raw))
    else:
        main(sys.argv[1:] or ["get", "create", "cart-redeem", "group"])
