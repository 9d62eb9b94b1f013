"""Bounded reading of what ``sync`` and enrolment fetch: files and HTTP, within a total deadline.

Two rules hold for every source: a total deadline (not per read: a server sending one byte
a second must not hold a sync for minutes), and never more than the size cap plus one byte
read (a device such as ``/dev/zero``, a FIFO, an endless or compressed answer). Failures are
``FetchError`` (an ``OSError``) with a stable ``code`` the CLI words per language.
"""

from __future__ import annotations

import itertools
import os
import socket
import stat
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier._errors import DecodeError, Reason, TrustError


class FetchError(OSError):
    """A sync source could not be read; ``code`` is stable (the CLI words it per language).

    ``unreachable`` (no connection), ``deadline_exceeded`` (the total deadline passed),
    ``http_status`` (an answer other than 200/304; ``status`` holds it),
    ``content_encoding`` (a compressed answer: refused, it would hide the real size),
    ``not_a_file`` (a path that is not a regular file: a FIFO, a device, a folder),
    ``bad_url`` (not a URL httpx can use).
    """

    def __init__(self, code: str, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.status = status


def _loopback(url: str) -> bool:
    import httpx

    try:
        return httpx.URL(url).host in ("127.0.0.1", "localhost", "::1")
    except httpx.InvalidURL:
        return False


_READ_CHUNK = 1024 * 1024


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, reading at most ``max_bytes + 1`` of them.

    Opened without following the file's kind on trust: a FIFO is opened non-blocking and a
    device, FIFO or folder is refused (``FetchError("not_a_file")``) before a byte is read;
    more than ``max_bytes`` is ``DecodeError(TOO_LARGE)``, even for a file that grows.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FetchError("not_a_file", path.name)
        if info.st_size > max_bytes:
            raise DecodeError(Reason.TOO_LARGE, "file larger than the sync limit")
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(_READ_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > max_bytes:
        raise DecodeError(Reason.TOO_LARGE, "file larger than the sync limit")
    return b"".join(chunks)


class _Deadline:
    """A total deadline for one HTTP fetch (connect, headers and body together).

    httpx's timeouts count per read, so a server sending one byte a second never trips them.
    A timer thread shuts the connection's socket down when the deadline passes, which ends
    any read blocked on it; between reads the deadline is also checked directly. The socket
    is found through httpcore's ``trace`` extension (``connection.connect_tcp.complete``)
    and held as a duplicate descriptor, so a late timer never touches a reused number.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore trace callback: remember the connection's socket."""
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        raw = None if stream is None else stream.get_extra_info("socket")
        if not isinstance(raw, socket.socket):
            return
        watched = socket.socket(fileno=os.dup(raw.fileno()))
        with self._lock:
            self._sockets.append(watched)
            if self.expired:
                _shutdown(watched)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def check(self) -> None:
        """Raise ``FetchError("deadline_exceeded")`` once the deadline passed."""
        if self.expired or time.monotonic() >= self.at:
            self.expired = True
            raise FetchError("deadline_exceeded")

    def close(self) -> None:
        """Stop the timer and release the duplicate descriptors."""
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer read within the bounds: status, headers (lower-case names), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    timeout_seconds: float,
    max_bytes: int,
    transport: Any = None,
) -> Answer:
    """One HTTP request within a total deadline, reading at most ``max_bytes + 1`` body bytes.

    https only (plain http to loopback only: ``TrustError(UNTRUSTED_BUNDLE)``), redirects not
    followed, compressed answers refused (``content_encoding``: they would hide the real
    size). ``FetchError`` for everything that is not an answer; any status is returned.
    """
    import httpx  # only the network path needs it; keeps check/scan start-up small

    if not url.startswith("https://") and not (url.startswith("http://") and _loopback(url)):
        raise TrustError(Reason.UNTRUSTED_BUNDLE, "https only (plain http only to loopback)")
    request_headers = {"Accept-Encoding": "identity", **(headers or {})}
    deadline = _Deadline(timeout_seconds)
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(timeout_seconds), transport=transport) as client,
            client.stream(
                method,
                url,
                headers=request_headers,
                content=content,
                follow_redirects=False,
                extensions={"trace": deadline.trace},
            ) as resp,
        ):
            deadline.check()
            if resp.headers.get("content-encoding", "identity").strip().lower() != "identity":
                raise FetchError("content_encoding", resp.headers["content-encoding"][:32])
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise DecodeError(Reason.TOO_LARGE, "answer larger than the limit")
            chunks: list[bytes] = []
            total = 0
            try:
                raw = resp.iter_raw()
                first = next(raw, None)
            except httpx.StreamConsumed:  # an in-memory answer (tests' MockTransport)
                raw, first = iter(()), resp.content
            for chunk in itertools.chain(() if first is None else (first,), raw):
                deadline.check()
                chunk = chunk[: max_bytes + 1 - total]
                chunks.append(chunk)
                total += len(chunk)
                if total > max_bytes:
                    raise DecodeError(Reason.TOO_LARGE, "answer larger than the limit")
            deadline.check()
            return Answer(
                resp.status_code,
                {k.lower(): v for k, v in resp.headers.items()},
                b"".join(chunks),
            )
    except httpx.InvalidURL as exc:
        raise FetchError("bad_url") from exc
    except httpx.HTTPError as exc:
        expired = deadline.expired or time.monotonic() >= deadline.at
        if expired or isinstance(exc, httpx.TimeoutException):
            raise FetchError("deadline_exceeded") from exc
        raise FetchError("unreachable", type(exc).__name__) from exc
    finally:
        deadline.close()
