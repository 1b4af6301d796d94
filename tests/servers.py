"""Real server processes for tests: the production command (bin/serve) on a free loopback port."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """The URL of the database pytest-django created, for processes of our own."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return f"postgres://{credentials}{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def access_lines(
        self, request_id: str | None = None, *, wait: float = 0
    ) -> list[dict[str, Any]]:
        """The access log's lines (one JSON object each) in the server's log, those of
        `request_id` only when given; with `wait`, for up to that many seconds until there
        is one (a line is written on the event loop's next turn, after the answer)."""
        deadline = time.monotonic() + wait
        while True:
            lines = [
                entry
                for entry in map(json.loads, _json_lines(_complete_lines(self.log.read_text())))
                if entry.get("logger") == "coupons.access"
                and (request_id is None or entry.get("request_id") == request_id)
            ]
            if lines or time.monotonic() >= deadline:
                return lines
            time.sleep(0.05)


def _complete_lines(log: str) -> str:
    """The log up to its last line end: the server may be writing the next line."""
    return log[: log.rfind("\n") + 1]


def _json_lines(log: str) -> list[str]:
    # Split at "\n" only: a JSON line may hold U+2028 or U+0085 raw (orjson leaves them
    # unescaped, as JSON allows), where str.splitlines would cut it.
    return [line for line in log.split("\n") if line.startswith("{")]


@functools.cache
def collected_static_root() -> str:
    """A STATIC_ROOT filled by collectstatic, once per test session, as the Docker build
    does: with DEBUG off the server serves the admin's files from there (hashed names)."""
    root = tempfile.mkdtemp(prefix="coupon-static-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
             "DJANGO_STATIC_ROOT": root},
        check=True,
        timeout=120,
    )  # fmt: skip
    return root


def server_env(**extra: str) -> dict[str, str]:
    # No DJANGO_SETTINGS_MODULE: the server finds its settings as in production (config.asgi).
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env = {
        **inherited,
        "DATABASE_URL": test_database_url(),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "server-test-secret-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DB_POOL_MAX_SIZE": "10",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    if env["DJANGO_DEBUG"] == "0" and "DJANGO_STATIC_ROOT" not in extra:
        env["DJANGO_STATIC_ROOT"] = collected_static_root()
    return env


def start_server(log_dir: Path, command: str = "bin/serve", **env: str) -> Server:
    """bin/serve, the production command (one worker), on a free loopback port (or
    `command`, bin/run-all: with the background worker, as `make run` starts them)."""
    port = free_port()
    log = log_dir / f"server-{port}.log"
    process = subprocess.Popen(
        [str(ROOT / command)],
        cwd=ROOT,
        env=server_env(
            PYTHON=sys.executable, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="1",
            GRACEFUL_TIMEOUT="5", **env,
        ),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"server did not become ready:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextmanager
def running_servers(count: int, log_dir: Path, **env: str) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(start_server(log_dir, **env))
        yield servers
    finally:
        for server in servers:
            stop_server(server)
