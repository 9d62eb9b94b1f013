"""How every buergerid server runs under uvicorn: `buergerid-issuer serve` and `dev`,
`python -m wallet_api` (what `make run` calls) and its `serve`, and the tests' live servers.

- Logs go only through the project's JSON logging (`issuer.logs`): uvicorn installs no
  logging configuration of its own and writes no access log, whose lines carry raw query
  strings (`?plate=…`) and client addresses. The access line is the middleware's
  `http_request`: method, route template, status, duration.
- uvicorn's proxy-header handling is off: it believes `X-Forwarded-For` from any local peer.
  The client address is resolved by `issuer.client_address` from `Settings.trusted_proxies`.
- No `Server` header; Ctrl-C ends the server after a clean shutdown, without a traceback.
- `serve_factory(import string, settings, workers=N)`: production. uvicorn imports the app
  factory in each of N worker processes (it needs an import string for that); every worker
  configures the same JSON logging before it logs anything (uvicorn applies the logging
  configuration first thing in each process). With metrics configured, the serving process
  makes the workers' private metrics directory, sets it in the environment before any worker
  starts, and serves `/metrics` on its own listener (issuer/metrics.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn

from issuer.logs import configure_logging, logging_config
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
    certfile, keyfile = _tls(settings, tls)
    config = server_config(
        app, host=settings.host, port=settings.port, ssl_certfile=certfile, ssl_keyfile=keyfile
    )
    server = uvicorn.Server(config)
    with metrics_listener(settings, workers=1):
        try:
            server.run()
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after a clean shutdown
            pass


def _tls(settings: Settings, tls: tuple[str, str] | None) -> tuple[str | None, str | None]:
    if tls is None and settings.tls_certfile is not None and settings.tls_keyfile is not None:
        tls = (str(settings.tls_certfile), str(settings.tls_keyfile))
    return tls if tls is not None else (None, None)


@contextlib.contextmanager
def metrics_listener(settings: Settings, *, workers: int) -> Iterator[None]:
    """While serving: `/metrics` on the configured listener (none without `metrics_port`);
    with several workers, their private metric files' directory is made first."""
    if settings.metrics_port is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        directory = None
        if workers > 1:
            from issuer.metrics import multiprocess_directory

            directory = stack.enter_context(multiprocess_directory(settings))
        from issuer.metrics import MetricsListener

        listener = MetricsListener(settings, multiprocess_dir=directory).start()
        stack.callback(listener.stop)
        yield


def serve_factory(
    factory: str, settings: Settings, *, workers: int = 1, tls: tuple[str, str] | None = None
) -> None:
    """Serve the app made by `factory` ("module:function", no arguments, reading Settings
    from the environment) in `workers` processes on the configured host and port."""
    configure_logging(settings.log_level, settings.log_format)
    certfile, keyfile = _tls(settings, tls)
    with metrics_listener(settings, workers=workers):
        config = server_config(
            factory,
            host=settings.host,
            port=settings.port,
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
            log_config=logging_config(settings.log_level, settings.log_format),
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        server = uvicorn.Server(config)
        try:
            if workers > 1:
                from uvicorn.supervisors import Multiprocess

                Multiprocess(config, sockets=[config.bind_socket()]).run()
            else:
                server.run()
        except KeyboardInterrupt:  # a clean shutdown already happened: no traceback
            pass
