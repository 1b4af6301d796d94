"""The Patroni cluster bin/with-ha started (HA_CLUSTER): who leads, a planned switchover,
a killed primary, and SQL on whichever node is the primary now."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg


@dataclass(frozen=True)
class Node:
    name: str
    port: int
    rest: int
    config: str
    data_dir: str


class HaCluster:
    def __init__(self, description: Path) -> None:
        described = json.loads(description.read_text())
        self.url: str = described["url"]
        self.nodes = [
            Node(n["name"], n["port"], n["rest"], n["config"], n["data_dir"])
            for n in described["nodes"]
        ]

    @classmethod
    def from_environment(cls) -> HaCluster | None:
        path = os.environ.get("HA_CLUSTER")
        return cls(Path(path)) if path else None

    def members(self) -> dict[str, dict[str, Any]]:
        for node in self.nodes:
            try:
                url = f"http://127.0.0.1:{node.rest}/cluster"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return {m["name"]: m for m in json.load(answer)["members"]}
            except (OSError, ValueError, KeyError):
                continue
        return {}

    def leader(self) -> Node | None:
        for name, member in self.members().items():
            if member["role"] == "leader" and member.get("state") == "running":
                return next(n for n in self.nodes if n.name == name)
        return None

    def wait_for_leader(self, *, other_than: str | None = None, seconds: float = 60) -> Node:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader.name != other_than:
                return leader
            time.sleep(0.2)
        raise AssertionError(f"no new leader in {seconds} s: {self.members()}")

    def wait_until_healthy(self, seconds: float = 90) -> None:
        """A leader and a synchronous standby again (the old primary rejoined)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            states = {(m["role"], m.get("state")) for m in self.members().values()}
            if states == {("leader", "running"), ("sync_standby", "streaming")} or states == {
                ("leader", "running"),
                ("sync_standby", "running"),
            }:
                return
            time.sleep(0.3)
        raise AssertionError(f"the cluster is not whole again in {seconds} s: {self.members()}")

    def switchover(self) -> str:
        """`patronictl switchover --force`: the leader steps down for the other node."""
        done = subprocess.run(
            ["patronictl", "-c", self.nodes[0].config, "switchover", "--force"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def kill_primary(self) -> Node:
        """kill -9 of the primary's postmaster: an unplanned failover."""
        leader = self.leader()
        assert leader is not None, self.members()
        pid = int((Path(leader.data_dir) / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        return leader

    def connect(self, *, seconds: float = 30) -> psycopg.Connection[tuple[Any, ...]]:
        """A connection to the primary (the multi-host URL finds it), retried meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return psycopg.connect(self.url, autocommit=True, connect_timeout=2)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return conn.execute(query).fetchall()

    def value(self, query: str) -> Any:
        return self.rows(query)[0][0]
