"""How every buergerid server runs under uvicorn: `buergerid-issuer serve` and `dev`,
`python -m wallet_api` (what `make run` calls) and its `serve`, and the tests' live servers.

- Logs go only through the project's JSON logging (`issuer.logs`): uvicorn installs no
  logging configuration of its own and writes no access log, whose lines carry raw query
  strings (`?plate=…`) and client addresses. The access line is the middleware's
  `http_request`: method, route template, status, duration.
- uvicorn's proxy-header handling is off: it believes `X-Forwarded-For` from any local peer.
  The client address is resolved by `issuer.client_address` from `Settings.trusted_proxies`.
- No `Server` header; Ctrl-C ends the server after a clean shutdown, without a traceback.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from issuer.logs import configure_logging
from issuer.settings import Settings


def server_config(app: Any, *, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration of every buergerid server (see the module docstring)."""
    options: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "lifespan": "on",
    }
    options.update(overrides)
    return uvicorn.Config(app, host=host, port=port, **options)


def serve(app: Any, settings: Settings, *, tls: tuple[str, str] | None = None) -> None:
    """Configure JSON logging, then serve `app` on the configured host and port until stopped.

    Over https with `tls` (certificate file, key file), else with the configured
    `tls_certfile`/`tls_keyfile` when both are set, else plain http."""
    configure_logging(settings.log_level, settings.log_format)
    if tls is None and settings.tls_certfile is not None and settings.tls_keyfile is not None:
        tls = (str(settings.tls_certfile), str(settings.tls_keyfile))
    certfile, keyfile = tls if tls is not None else (None, None)
    config = server_config(
        app, host=settings.host, port=settings.port, ssl_certfile=certfile, ssl_keyfile=keyfile
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after a clean shutdown: no traceback
        pass
