"""``sync`` reads its source within bounds: a total deadline, regular files only, and never
more than the size cap plus one byte, from a file, a device, a FIFO or a server.

The slow servers here never finish on their own; each stops when the client hangs up or the
test ends (a bounded number of bytes either way). Nothing asserts on elapsed time: a short
configured deadline must end the fetch with ``deadline_exceeded`` while the server still had
bytes to send.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.verifier_internals import FetchError, fetch, read_regular_file
from tests.support.verifier_stores import assert_error_line, cli
from verifier import DecodeError, Reason

DEADLINE_SECONDS = 1.0
MAX_TRICKLE_BYTES = 120  # a server that would need two minutes to finish


@contextmanager
def trickle_server(*, head: bytes, body: bytes) -> Iterator[tuple[str, dict[str, object]]]:
    """A one-connection HTTP server on 127.0.0.1 that sends `head` then `body` a byte a second.

    Yields (url, seen): seen["sent"] counts the bytes written, seen["hung_up"] is set when a
    write failed because the client closed the connection.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()
    hung_up = threading.Event()
    seen: dict[str, object] = {"sent": 0, "hung_up": hung_up}

    def serve() -> None:
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)  # the request
            try:
                if head:
                    conn.sendall(head)
                    seen["sent"] = int(seen["sent"]) + len(head)  # type: ignore[call-overload]
                for i in range(len(body)):
                    if stop.wait(1.0):
                        return
                    conn.sendall(body[i : i + 1])
                    seen["sent"] = int(seen["sent"]) + 1  # type: ignore[call-overload]
            except OSError:
                hung_up.set()
                return
            # the whole body went out: the client never hung up
            stop.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/trust-bundle", seen
    finally:
        stop.set()
        listener.close()
        thread.join(15)


def test_a_slow_body_ends_at_the_total_deadline() -> None:
    body = b"x" * MAX_TRICKLE_BYTES
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    with trickle_server(head=head, body=body) as (url, seen):
        with pytest.raises(FetchError) as info:
            fetch(url, timeout_seconds=DEADLINE_SECONDS)
        assert info.value.code == "deadline_exceeded"
        # the client hung up while the server still had most of the body to send
        hung_up = seen["hung_up"]
        assert isinstance(hung_up, threading.Event) and hung_up.wait(15)
        assert int(seen["sent"]) < len(head) + len(body)  # type: ignore[call-overload]


def test_slow_headers_end_at_the_total_deadline() -> None:
    # headers trickled a byte at a time: every read returns within any per-read timeout
    head_bytes = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"y" * MAX_TRICKLE_BYTES
    with trickle_server(head=b"", body=head_bytes) as (url, seen):
        with pytest.raises(FetchError) as info:
            fetch(url, timeout_seconds=DEADLINE_SECONDS)
        assert info.value.code == "deadline_exceeded"
        hung_up = seen["hung_up"]
        assert isinstance(hung_up, threading.Event) and hung_up.wait(15)


def test_a_server_that_never_answers_ends_at_the_deadline() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts into the backlog, never reads, never answers
    try:
        with pytest.raises(FetchError) as info:
            fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/tb", timeout_seconds=0.5)
        assert info.value.code == "deadline_exceeded"
    finally:
        listener.close()


def test_an_endless_body_is_read_to_the_cap_plus_one_byte_only() -> None:
    pulled: list[int] = []

    def endless() -> Iterator[bytes]:
        for _ in range(10_000):  # 640 MB if anyone read it all
            pulled.append(65536)
            yield b"\0" * 65536

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    with pytest.raises(DecodeError) as info:
        fetch("https://tb.example/", max_bytes=100_000, transport=httpx.MockTransport(handler))
    assert info.value.reason is Reason.TOO_LARGE
    assert sum(pulled) <= 100_000 + 65536  # one transport chunk beyond the cap at most


def test_a_compressed_answer_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept-Encoding"] == "identity"
        return httpx.Response(200, content=b"\x1f\x8b", headers={"Content-Encoding": "gzip"})

    with pytest.raises(FetchError) as info:
        fetch("https://tb.example/", transport=httpx.MockTransport(handler))
    assert info.value.code == "content_encoding"


def test_dev_zero_is_refused_before_reading() -> None:
    with pytest.raises(FetchError) as info:
        fetch("/dev/zero")
    assert info.value.code == "not_a_file"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "bundle.cbor"
    os.mkfifo(fifo)
    with pytest.raises(FetchError) as info:
        fetch(str(fifo))
    assert info.value.code == "not_a_file"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch(str(tmp_path))
    assert info.value.code == "not_a_file"


def test_a_huge_sparse_file_is_refused_unread(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.cbor"
    with sparse.open("wb") as fh:
        fh.truncate(1 << 40)  # a terabyte of holes: reading it would never end
    with pytest.raises(DecodeError) as info:
        fetch(str(sparse), max_bytes=10)
    assert info.value.reason is Reason.TOO_LARGE


def test_a_file_at_the_cap_is_read_whole(tmp_path: Path) -> None:
    exact = tmp_path / "exact.cbor"
    exact.write_bytes(b"z" * 10)
    assert read_regular_file(exact, 10) == b"z" * 10
    assert fetch(str(exact), max_bytes=10).data == b"z" * 10


def test_the_cli_words_a_fifo_and_dev_zero(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for source in ("/dev/zero", str(fifo)):
        proc = cli("--lang", "de", "sync", source, data_dir=tmp_path / "d")
        assert_error_line(proc)
        assert "keine reguläre Datei" in proc.stderr
