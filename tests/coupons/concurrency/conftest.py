"""The two server processes (bin/serve) that every burst module of this package sends to:
started once for the package, not once per module (each start boots two processes: seconds
on a busy machine). The tests do not interfere through them:
each makes its own key and codes, and the database is flushed after each test as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import Server, running_servers


@pytest.fixture(scope="package")
def burst_servers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    with running_servers(2, tmp_path_factory.mktemp("burst-servers")) as started:
        yield started
