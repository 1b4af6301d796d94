"""README's walk-through as a new user runs it after `make run`: on the embedded default
(SQLite, no DATABASE_URL) whatever database the rest of the suite uses, against a real
server process. Every curl command of README's `sh` blocks is parsed from README.md and
sent in order; its answer must have the status in the comment under it and every
`"field": value` that comment shows; every key the comment names must be in the answer, and
an answer shown whole (JSON, no `…` for the rest) must have exactly the real answer's keys
and value types (tests/examples.py). Examples that need data of their own (reports of a
seeded campaign, an import from a pipe) are fenced `shell`, and are not part of it.
Then every command with an Idempotency-Key is sent again: the same answer, byte for byte,
and nothing spent twice."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.examples import shape_mismatches
from tests.servers import ROOT, Server, server_env, start_server, stop_server

README = ROOT / "README.md"
# README's server and its placeholders for ids (`6f1c…`: the id an earlier answer showed).
BASE_URL = "http://127.0.0.1:8000"
PLACEHOLDER = re.compile(r"\b([0-9a-f]{4})…")
# `"field": value` in a comment, for values shown whole (no `…`).
SHOWN_FIELD = re.compile(r'"(\w+)": (-?\d+(?:\.\d+)?|true|false|null|"[^"…]*")(?=[,}\s])')
SHOWN_ID = re.compile(r'"(\w+)": "([0-9a-f]{4})…"')
SHOWN_KEY = re.compile(r'"(\w+)":')


@dataclass
class Command:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    # The comment lines right under the command: the answer README shows.
    shown: str
    status: int | None = field(init=False)

    def __post_init__(self) -> None:
        found = re.match(r"\s*(\d{3})\b", self.shown)
        self.status = int(found.group(1)) if found else None

    def whole_answer(self) -> Any:
        """The answer shown, when it is shown whole (valid JSON once the status and any
        `(remark)` lines are left out); None when `…` stands for the rest."""
        lines = [line for line in self.shown.splitlines() if not line.strip().startswith("(")]
        try:
            return json.loads(re.sub(r"^\s*\d{3}", "", "\n".join(lines)))
        except ValueError:
            return None


def _curl(argv: list[str], shown: str) -> Command:
    method, url, headers, body = "", "", {}, None
    args = iter(argv[1:])
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, value = next(args).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            body = next(args)
        elif arg.startswith("http"):
            url = arg
        else:
            assert arg == "-s", f"a curl option this test does not know: {arg}"
    return Command(method or ("POST" if body is not None else "GET"), url, headers, body, shown)


def readme_walkthrough(text: str) -> tuple[list[tuple[str, list[str]]], list[Command]]:
    """README's `VAR=$(command | tail -n 1)` lines (the keys) and its curl commands, in order."""
    keys: list[tuple[str, list[str]]] = []
    commands: list[Command] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        lines = block.replace("\\\n", " ").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if key := re.fullmatch(r"(\w+)=\$\((.+) \| tail -n 1\)", line.strip()):
                keys.append((key.group(1), shlex.split(key.group(2))))
            if not line.startswith("curl "):
                continue
            # A body in single quotes may go on over several lines.
            while True:
                try:
                    argv = shlex.split(line)
                    break
                except ValueError:
                    line += "\n" + lines[i]
                    i += 1
            shown = []
            while i < len(lines) and lines[i].startswith("#"):
                shown.append(lines[i].lstrip("#"))
                i += 1
            commands.append(_curl(argv, "\n".join(shown)))
    return keys, commands


def test_readme_names_keys_and_commands_for_every_part_of_the_walk_through():
    keys, commands = readme_walkthrough(README.read_text())
    assert [name for name, _ in keys] == ["KEY", "R"]
    paths = {re.sub(r"/[0-9a-f]{4}…/", "/{id}/", c.url.removeprefix(BASE_URL)) for c in commands}
    assert {
        "/v1/coupons/", "/v1/coupons/{id}/", "/v1/validations/", "/v1/redemptions/",
        "/v1/redemptions/{id}/revert/", "/v1/campaigns/", "/v1/campaigns/{id}/",
        "/v1/reservations/", "/v1/reservations/{id}/confirm/", "/v1/reservations/{id}/release/",
    } <= paths  # fmt: skip
    assert all(c.status is not None for c in commands), [c.url for c in commands if not c.status]
    assert sum("Idempotency-Key" in c.headers for c in commands) >= 3


@pytest.fixture(scope="module")
def sqlite_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, dict[str, str]]]:
    """`make run`'s server on a fresh SQLite file, migrated as `make run` does; with the
    environment README's commands run in."""
    tmp = tmp_path_factory.mktemp("readme-sqlite")
    # No DATABASE_URL (blank counts as unset): the embedded default, in a file of our own.
    database = {"DATABASE_URL": "", "SQLITE_PATH": str(tmp / "db.sqlite3"), "DJANGO_DEBUG": "1"}
    env = server_env(**database)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=env, check=True, timeout=300,
    )  # fmt: skip
    server = start_server(tmp, **database)
    try:
        yield server, env
    finally:
        stop_server(server)


def _found(answer: Any, name: str, value: Any) -> bool:
    """Whether `name` has `value` anywhere in the answer (README shows nested fields too)."""
    if isinstance(answer, dict):
        if name in answer and answer[name] == value and type(answer[name]) is type(value):
            return True
        return any(_found(v, name, value) for v in answer.values())
    if isinstance(answer, list):
        return any(_found(v, name, value) for v in answer)
    return False


def _has_key(answer: Any, name: str) -> bool:
    if isinstance(answer, dict):
        return name in answer or any(_has_key(v, name) for v in answer.values())
    if isinstance(answer, list):
        return any(_has_key(v, name) for v in answer)
    return False


def test_readme_walk_through_runs_on_the_embedded_sqlite_default(sqlite_server):
    server, env = sqlite_server
    assert env["DATABASE_URL"] == ""
    keys, commands = readme_walkthrough(README.read_text())
    variables: dict[str, str] = {}
    for name, argv in keys:
        program = [sys.executable if argv[0].endswith("python") else argv[0], *argv[1:]]
        out = subprocess.run(
            program, cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=120
        )
        variables[name] = out.stdout.strip().splitlines()[-1]
    ids: dict[str, str] = {}

    def filled(text: str) -> str:
        text = text.replace(BASE_URL, server.url)
        for name, value in variables.items():
            text = text.replace(f"${name}", value)
        return PLACEHOLDER.sub(lambda m: ids[m.group(1)], text)

    sent: list[tuple[Command, httpx.Response]] = []
    shown_whole = 0
    with httpx.Client(timeout=30) as client:

        def send(command: Command) -> httpx.Response:
            return client.request(
                command.method,
                filled(command.url),
                headers={k: filled(v) for k, v in command.headers.items()},
                content=None if command.body is None else filled(command.body).encode(),
            )

        for command in commands:
            response = send(command)
            where = f"{command.method} {command.url} {command.body or ''}"
            assert response.status_code == command.status, f"{where}\n{response.text}"
            answer = response.json()
            for name, placeholder in SHOWN_ID.findall(command.shown):
                if placeholder in ids:
                    assert _found(answer, name, ids[placeholder]), f"{where}: {name}\n{answer}"
                else:
                    ids[placeholder] = answer[name]
            for name, value in SHOWN_FIELD.findall(command.shown):
                expected = json.loads(value)
                assert _found(answer, name, expected), f"{where}: {name}={value}\n{answer}"
            for name in SHOWN_KEY.findall(command.shown):
                assert _has_key(answer, name), f"{where}: README shows {name}\n{answer}"
            whole = command.whole_answer()
            if whole is not None:
                drift = shape_mismatches(whole, answer)
                assert not drift, f"{where}: README's answer is not the real one: {drift}"
                shown_whole += 1
            sent.append((command, response))

        # Retries with the same Idempotency-Key: the first answer again, nothing more spent.
        spring = client.get(
            f"{server.url}/v1/coupons/?code=SPRING",
            headers={"Authorization": f"Bearer {variables['KEY']}"},
        ).json()["results"][0]
        retried = [(c, r) for c, r in sent if "Idempotency-Key" in c.headers]
        for command, first in retried:
            again = send(command)
            assert (again.status_code, again.content) == (first.status_code, first.content)
        after = client.get(
            f"{server.url}/v1/coupons/{spring['id']}/",
            headers={"Authorization": f"Bearer {variables['KEY']}"},
        ).json()
    assert retried
    assert shown_whole >= 2
    assert after["remaining_count"] == spring["remaining_count"]
    # SPRING: 500 uses, one redeemed (o-7), one held then confirmed (o-8), one released.
    assert after["remaining_count"] == 498
    assert "Traceback" not in server.log.read_text()
    # It all went to the SQLite file (the server never saw a DATABASE_URL).
    assert Path(env["SQLITE_PATH"]).stat().st_size > 0
