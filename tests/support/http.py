"""Real HTTP: `live_server(app)` runs uvicorn on 127.0.0.1 on a free port in a thread, configured
as every buergerid server is (`issuer.serving.server_config`).

    with live_server(app) as base_url:
        httpx.get(f"{base_url}/healthz")

Readiness is polled on `server.started` with a bounded wait on a threading.Event-like loop
(no fixed sleeps); shutdown sets `should_exit` and joins the thread.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from issuer.serving import server_config

STARTUP_TIMEOUT_SECONDS = 30.0
# Every test client's timeout. A test asserts outcomes, never latency: on a loaded two-core
# machine (a browser, PostgreSQL and Node beside two test workers) a request the server
# answers in 50 ms idle has been seen to take over 5 s, httpx's default. A server that hangs
# still fails the test, a minute later.
HTTP_TIMEOUT = 60.0
KEEP_ALIVE_SECONDS = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(
    app: Any,
    *,
    port: int | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 (https with the TLS files); yields the base URL."""
    port = port or _free_port()
    # the production configuration (issuer/serving.py): no proxy headers, no access log
    config = server_config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        # longer than httpx's own 5 s keep-alive expiry: the client, not the server, drops an
        # idle connection, so a request never races the server closing it (both at 5 s, a
        # loaded machine saw "Server disconnected without sending a response")
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = uvicorn.Server(config)
    started = threading.Event()
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        # bounded wait on a condition; a thread that died (port taken) ends it early
        for _ in range(int(STARTUP_TIMEOUT_SECONDS * 20)):
            if started.wait(0.05) or not thread.is_alive():
                break
        if not started.is_set() or not server.started:
            raise RuntimeError("uvicorn did not start")
        scheme = "https" if ssl_certfile else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)


@pytest.fixture
def live_base_url(app: Any) -> Iterator[str]:
    """The `app` fixture served by uvicorn over real HTTP; yields its base URL."""
    with live_server(app) as base_url:
        yield base_url
