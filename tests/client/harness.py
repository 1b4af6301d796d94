"""The generated client, wired for the scenario: its operations by operationId, clients
with each kind of key, and a recorder on every answer that checks it against the document
(a status it declares, a content type it declares, the headers it declares and no watched
header it does not) and notes which operation answered what."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx

from tests.client.reading import assert_reads

# Headers with a meaning a client acts on: when sent, the document must declare them. (DRF
# sends `Allow` on every answer; the document declares it where it is the answer: 405.)
WATCHED_HEADERS = ("Location", "Retry-After", "WWW-Authenticate", "Idempotent-Replayed")


class Recorder:
    """An httpx response hook: every answer checked against the document, and noted."""

    def __init__(self, document: dict[str, Any]) -> None:
        # Literal paths first: /v1/coupons/batch/ before /v1/coupons/{coupon_id}/.
        self.paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), operations)
            for path, operations in sorted(document["paths"].items(), key=lambda p: p[0].count("{"))
        ]
        self.answered: dict[str, set[int]] = defaultdict(set)
        self.unlisted: set[tuple[str, str, int]] = set()  # routes outside the document

    def __call__(self, response: httpx.Response) -> None:
        method, path = response.request.method.lower(), response.request.url.path
        operations = next((ops for pattern, ops in self.paths if pattern.match(path)), None)
        where = f"{method.upper()} {path} {response.status_code}"
        if operations is None:
            self.unlisted.add((method, path, response.status_code))
            return
        operation = operations.get(method)
        if operation is None:  # a method the route does not serve: any operation's 405
            assert response.status_code == 405, where
            operation = next(iter(operations.values()))
        else:
            self.answered[operation["operationId"]].add(response.status_code)
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, f"{where}: a status the document does not declare"
        headers = declared.get("headers", {})
        for name, header in headers.items():
            if header.get("required"):
                assert name in response.headers, f"{where}: {name} declared, not sent"
        for name in WATCHED_HEADERS:
            if name in response.headers:
                assert name in headers, f"{where}: {name} sent, not declared"
        media = response.headers.get("content-type", "").split(";")[0].strip()
        content = declared.get("content", {})
        if response.status_code != 204:  # no content (Django still names a type)
            assert media in content, f"{where}: {media} is not one of {sorted(content)}"


@dataclass
class Api:
    """The scenario's handle on the generated client (`package`) and the live server."""

    package: ModuleType
    base_url: str
    recorder: Recorder
    manage: Any
    redeem: Any
    anonymous: Any
    stranger: Any  # a key the server does not know
    state: dict[str, Any] = field(default_factory=dict)
    problems: set[int] = field(default_factory=set)

    @classmethod
    def connect(cls, package: ModuleType, base_url: str, recorder: Recorder, **keys: str) -> Api:
        options = {
            "base_url": base_url,
            "raise_on_unexpected_status": True,
            "timeout": httpx.Timeout(30.0),
            "httpx_args": {"event_hooks": {"response": [recorder]}},
        }

        def client(token: str | None) -> Any:
            if token is None:
                return package.Client(**options)
            return package.AuthenticatedClient(token=token, **options)

        return cls(
            package=package,
            base_url=base_url,
            recorder=recorder,
            manage=client(keys["manage"]),
            redeem=client(keys["redeem"]),
            anonymous=client(None),
            stranger=client("cs_not-a-key-this-server-knows"),
        )

    @property
    def m(self) -> Any:
        """The generated models."""
        return importlib.import_module(f"{self.package.__name__}.models")

    def operation(self, operation_id: str) -> ModuleType:
        """The generated module of an operation (one module per operationId)."""
        found = _operations(self.package)
        assert operation_id in found, f"the client has no {operation_id}"
        return found[operation_id]

    def call(self, operation_id: str, *args: Any, client: Any = None, **kwargs: Any) -> Any:
        """The operation's `sync_detailed` with the manage key unless told otherwise."""
        module = self.operation(operation_id)
        return module.sync_detailed(*args, client=client or self.manage, **kwargs)

    def raw(self, operation_id: str, method: str, url: str, **kwargs: Any) -> Any:
        """A request the typed call cannot make (a wrong method or content type), its answer
        parsed by the operation's own generated parser."""
        client = kwargs.pop("client", None) or self.manage
        response = client.get_httpx_client().request(method, url, **kwargs)
        return self.operation(operation_id)._build_response(client=client, response=response)

    def ok(self, response: Any, model: str, status: int = 200) -> Any:
        """The parsed answer, which must be a `model` read in full."""
        assert response.status_code == status, (status, response.status_code, response.content)
        parsed = response.parsed
        assert type(parsed).__name__ == model, (model, parsed)
        assert_reads(parsed, where=model)
        return parsed

    def refused(self, response: Any, status: int, code: str) -> Any:
        """The parsed answer, which must be a Problem of `status` and `code`."""
        problem = self.ok(response, "Problem", status)
        assert (problem.status, problem.code.value) == (status, code), problem
        self.problems.add(status)
        return problem


def _operations(package: ModuleType) -> dict[str, ModuleType]:
    api = importlib.import_module(f"{package.__name__}.api")
    found = {}
    for tag in pkgutil.iter_modules(api.__path__):
        group = importlib.import_module(f"{api.__name__}.{tag.name}")
        for module in pkgutil.iter_modules(group.__path__):
            found[module.name] = importlib.import_module(f"{group.__name__}.{module.name}")
    return found
