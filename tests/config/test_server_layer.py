"""What the production server (bin/serve, as `make run` and Docker start it) answers before
or around the app: the request head is capped, its own refusals are problem+json with a
request id, proxy headers are trusted only from FORWARDED_ALLOW_IPS. Raw sockets where
httpx would not send what an attacker sends."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from access.services import api_keys
from tests.servers import Server, running_servers

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CAP = 32 * 1024


@pytest.fixture(scope="module")
def server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_servers(1, tmp_path_factory.mktemp("server-layer")) as servers:
        yield servers[0]


def exchange(server: Server, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw` on a fresh connection; the status, headers and body of the first answer."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunked(body)
    return int(status_line.split()[1]), headers, body


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return body.endswith(b"0\r\n\r\n")  # the last chunk


def _dechunked(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out
        out, body = out + rest[:size], rest[size + 2 :]


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def assert_server_problem(status: int, headers: dict[str, str], body: bytes, code: str) -> None:
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    assert len(headers["x-request-id"]) == 32
    problem = json.loads(body)
    assert problem["status"] == status and problem["code"] == code
    assert problem["title"] and problem["detail"] and problem["type"]


def rss_kib(server: Server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def test_a_request_head_over_32_kib_is_431_problem_json(server: Server) -> None:
    status, headers, body = exchange(server, get("/healthz", "X-Big: " + "a" * (CAP + 1)))

    assert status == 431
    assert_server_problem(status, headers, body, "request_header_fields_too_large")
    assert headers["connection"] == "close"
    assert server.access_lines(headers["x-request-id"], wait=5)


def test_many_headers_adding_up_past_the_cap_are_431(server: Server) -> None:
    many = [f"X-H{n}: {'b' * 100}" for n in range(400)]
    assert exchange(server, get("/healthz", *many))[0] == 431


def test_a_long_request_line_counts_against_the_cap(server: Server) -> None:
    assert exchange(server, get("/healthz?" + "q" * CAP))[0] == 431


def test_a_head_just_under_the_cap_is_served(server: Server) -> None:
    status, _, body = exchange(server, get("/healthz", "X-Big: " + "a" * (CAP - 100)))
    assert status == 200, body


def test_a_64_mb_header_is_cut_off_without_growing_the_worker(server: Server) -> None:
    before = rss_kib(server)
    url = urlsplit(server.url)
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"a" * (1024 * 1024))
                sent += 1024 * 1024
        except OSError:  # the server closed the connection: what it should do
            pass
    assert sent < 64 * 1024 * 1024, "the server read the whole 64 MB header"
    assert rss_kib(server) - before < 20 * 1024
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_body_larger_than_the_head_cap_in_one_packet_is_not_mistaken_for_a_head(
    server: Server,
) -> None:
    _, key = api_keys.create_api_key(name="server-layer", scope="redeem")
    body = b'{"code": "NONE"' + b" " * (3 * CAP) + b"}"  # JSON allows the whitespace
    head = (
        "POST /v1/validations/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    status, _, answer = exchange(server, head + body)

    assert status == 200, answer
    assert json.loads(answer)["reason"] == "coupon_not_found"


def test_pipelined_requests_are_each_answered(server: Server) -> None:
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(get("/healthz") + get("/readyz") + get("/healthz", "Connection: close"))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 3


def test_an_unparsable_request_is_400_problem_json(server: Server) -> None:
    status, headers, body = exchange(server, b"NOT HTTP AT ALL\r\n\r\n")

    assert status == 400
    assert_server_problem(status, headers, body, "bad_request")


def test_a_body_over_one_mib_is_413_with_a_request_id_and_an_access_line(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/v1/coupons/",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json", "X-Request-ID": "too-big-1"},
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"] == "too-big-1"
    assert response.json()["code"] == "payload_too_large"
    lines = server.access_lines("too-big-1", wait=5)
    assert [(line["status"], line["path"]) for line in lines] == [(413, "/v1/coupons/")]


def test_a_nul_in_the_schema_version_keeps_the_connection(server: Server) -> None:
    response = httpx.get(f"{server.url}/v1/schema/?version=%00")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_the_server_logged_no_tracebacks(server: Server) -> None:
    log = server.log.read_text()
    assert "Traceback" not in log, log[-4000:]


def create_coupon_behind(server: Server, key: str, code: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/coupons/",
        json={"code": code, "init_count": 1},
        headers={"Authorization": f"Bearer {key}", "X-Forwarded-Proto": "https"},
    )


def test_x_forwarded_proto_is_ignored_unless_forwarded_allow_ips_names_the_proxy(
    tmp_path: Path,
) -> None:
    _, key = api_keys.create_api_key(name="proxy", scope="manage")

    with running_servers(1, tmp_path) as [direct]:
        response = create_coupon_behind(direct, key, "DIRECT")
        assert response.status_code == 201
        assert response.headers["location"].startswith("http://")
        assert "strict-transport-security" not in response.headers

    with running_servers(1, tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1") as [proxied]:
        response = create_coupon_behind(proxied, key, "PROXIED")
        assert response.status_code == 201
        assert response.headers["location"].startswith("https://")
        assert response.headers["strict-transport-security"].startswith("max-age=")
