"""The body size limit: `max_request_bytes` (imports: `max_import_bytes`), for declared and
chunked bodies alike; 413 `request_too_large`."""

from __future__ import annotations

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from issuer.errors import ErrorCode
from issuer.middleware.common import _send_problem

IMPORT_PATH_PREFIX = "/api/v1/imports/"


class RequestTooLarge(StarletteHTTPException):
    """Raised from `receive` once a body passes the limit (also for chunked bodies)."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimitMiddleware:
    """Refuses bodies beyond `max_request_bytes` (imports: `max_import_bytes`) with 413."""

    def __init__(self, app: ASGIApp, *, max_request_bytes: int, max_import_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_import_bytes = max_import_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = (
            self.max_import_bytes if path.startswith(IMPORT_PATH_PREFIX) else self.max_request_bytes
        )
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    code = (
                        ErrorCode.REQUEST_TOO_LARGE if declared >= 0 else ErrorCode.INVALID_REQUEST
                    )
                    await _send_problem(send, 413 if declared >= 0 else 400, code, path)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLarge:
            if response_started:
                raise
            await _send_problem(send, 413, ErrorCode.REQUEST_TOO_LARGE, path)
