"""One JSON object per log line, for log shippers; never a secret in it."""

from __future__ import annotations

import asyncio
import json
import logging
import select
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

import orjson

# No field these lines write is a thread's, process's or task's name, which every LogRecord
# would otherwise look up: logging's documented switches. A LOGGING format naming them
# gets None.
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12

# What every LogRecord carries by itself; anything else on a record came with `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """ts (UTC, milliseconds), level, logger, message, then every field passed with
    `extra=` (the access log's method, path, status, duration_ms, request_id, api_key), and
    `exception` with its traceback; written by orjson, the access line being on every
    request (docs/performance.md)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        line = orjson.dumps(entry, default=str).decode()
        if line.isascii():
            return line
        # ASCII only, as before: orjson writes U+2028, U+0085 and the like raw, which some
        # log readers take for line ends (Python's str.splitlines does).
        return json.dumps(entry, default=str, separators=(",", ":"))


class LoopBatchedStreamHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler whose lines emitted in an event loop are written together, once per
    turn of the loop (in writes of whole lines, at most PIPE_BUF bytes each), rather than
    one write (a system call that lets go of the GIL) per line; lines from any other thread
    are written at once, as StreamHandler does. At exit `logging.shutdown` flushes what a
    last turn left."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        # The loop a flush is scheduled on: another loop's lines schedule their own (a
        # loop may close before the turn that would have written them).
        self._flushing_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            super().emit(record)
            return
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        if self._flushing_on is not loop:
            self._flushing_on = loop
            loop.call_soon(self.flush)
        self._pending.append(line)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._flushing_on = None
            if self._pending:
                lines, self._pending = self._pending, []
                for chunk in _atomic_chunks(lines):
                    try:
                        # stderr is line-buffered: one chunk, one write.
                        self.stream.write(chunk)
                        self.stream.flush()
                    except Exception:
                        self.handleError(logging.makeLogRecord({"msg": chunk}))
            super().flush()


# A write of at most PIPE_BUF bytes to a pipe is never interleaved with another writer's,
# and the server's worker processes share one stderr: no line may be cut by another's.
_ATOMIC_WRITE = select.PIPE_BUF


def _atomic_chunks(lines: list[str]) -> Iterator[str]:
    """Whole lines joined into chunks of at most PIPE_BUF bytes (a longer line alone)."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode(errors="backslashreplace"))
        if chunk and size + length > _ATOMIC_WRITE:
            yield "".join(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += length
    if chunk:
        yield "".join(chunk)
