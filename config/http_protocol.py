"""The HTTP/1.1 protocol that bin/serve (and so `make run`) gives uvicorn: its httptools
protocol with a cap on the request head, and its own refusals as problem+json.

uvicorn buffers a request's line and headers before the app sees them, and under httptools
without any limit: one 64 MB header on /healthz was answered 200 while the worker grew by
180 MB. An ASGI guard beside BodySizeLimit would come after that cost, so the cap lives
here: the head is fed to the parser in slices no longer than what it may still take, and a
head past MAX_REQUEST_HEAD_BYTES is answered 431 and the connection closed. (Under
`--http h11`, uvicorn's `--h11-max-incomplete-event-size` caps it instead, with a plain 400.)

No Django here: `make bench` serves its bare yardstick with this protocol too.
"""

from __future__ import annotations

import json
import logging
import uuid
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Request line plus headers. A browser's admin session and CSRF cookies take well under
# 1 KiB and an API request less; 32 KiB is nginx's default total (4 buffers of 8 KiB).
MAX_REQUEST_HEAD_BYTES = 32 * 1024

access_log = logging.getLogger("coupons.access")


def problem_answer(
    status: int, code: str, detail: str, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    """A whole HTTP/1.1 response, problem+json, closing the connection: what the server
    layer says by itself, in the same form as the app's problems (and an X-Request-ID)."""
    phrase = HTTPStatus(status).phrase
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {
            "type": f"urn:coupon-service:problem:{code}",
            "title": phrase,
            "status": status,
            "detail": detail,
            "code": code,
        }
    ).encode()
    headers = [
        *default_headers,
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-request-id", request_id.encode()),
        (b"connection", b"close"),
    ]
    access_log.info(
        "- - %s",
        status,
        extra={"method": "", "path": "", "route": "unparsed", "status": status,
               "duration_ms": 0.0, "request_id": request_id},
    )  # fmt: skip
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return f"HTTP/1.1 {status} {phrase}\r\n".encode() + head + b"\r\n" + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_REQUEST_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if not self._reading_head:  # a body: BodySizeLimit's business
            super().data_received(data)
            return
        while data:
            # At most one byte past what the head may still take: httptools never holds
            # more of a head than the cap before this refuses it.
            room = self.max_head_bytes - self._head_bytes + 1
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
            if not self._reading_head:
                if data:
                    super().data_received(data)
                return
            if self._head_bytes > self.max_head_bytes:
                self._refuse(
                    431,
                    "request_header_fields_too_large",
                    f"The request line and headers are larger than {self.max_head_bytes} bytes.",
                )
                return

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head, self._head_bytes = True, 0

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer to an unparsable request is text/plain.
        self._refuse(400, "bad_request", "The request is not valid HTTP/1.1.")

    def _refuse(self, status: int, code: str, detail: str) -> None:
        self.logger.warning("Refused a request: %s", detail)
        answer = problem_answer(status, code, detail, self.server_state.default_headers)
        self.transport.write(answer)
        self.transport.close()
