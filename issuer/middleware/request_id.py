"""Request ids and the access log: takes or makes `X-Request-ID`, echoes it, logs one line
per request with the route template (never path values, bodies or personal data)."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from issuer.errors import ErrorCode
from issuer.logs import request_id_var
from issuer.middleware.common import _send_problem, log, route_template

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Takes or makes `X-Request-ID`, echoes it, and logs one access line (no path values)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise
            # an unexpected error: a bare 500 problem that still carries the request id
            log.error("unhandled_exception", extra={"exc_type": type(exc).__name__})
            await _send_problem(send_with_id, 500, ErrorCode.INTERNAL_ERROR, scope["path"])
        finally:
            log.info(
                "http_request",
                extra={
                    "method": scope["method"],
                    # the route template, never the raw path (it may hold references)
                    "route": route_template(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)
