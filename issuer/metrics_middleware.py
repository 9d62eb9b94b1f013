"""Pure ASGI middleware: count every HTTP request and its duration by method, route template
and status (issuer/metrics.py). The route is the matched template, "unmatched" when routing
found nothing, never the raw path; a method outside the usual ones counts as "other"."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from issuer import metrics
from issuer.middleware import route_template


def _template(scope: Scope) -> str:
    """`route_template`, and for Starlette's own routes (the OpenAPI document), which leave
    no `route` in the scope, the path of the route whose endpoint answered."""
    template = route_template(scope)
    endpoint = scope.get("endpoint")
    if template != "unmatched" or endpoint is None:
        return template
    routes: Any = getattr(scope.get("app"), "routes", ())
    for route in routes:
        if getattr(route, "endpoint", None) is endpoint and hasattr(route, "path"):
            return str(route.path)
    return template


def _timing(ms: float) -> bytes:
    return f"app;dur={ms:.2f}".encode("ascii")


class MetricsMiddleware:
    """Outermost: sees every answer, the early refusals (413, 429) included. With
    `server_timing`, every answer carries ``Server-Timing: app;dur=<ms>``: the time until
    its start (the status and headers), waiting for a worker thread included."""

    def __init__(self, app: ASGIApp, *, server_timing: bool = False) -> None:
        self.app = app
        self.server_timing = server_timing
        metrics.install()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if self.server_timing:
                    took = (time.perf_counter() - started) * 1000
                    headers = [*message.get("headers", ()), (b"server-timing", _timing(took))]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = metrics.route_method(scope["method"])
            route = _template(scope)
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
