"""Refuse control characters in the URL: the decoded path and every query parameter.

One check at the boundary for every route, present and future, before routing: a path or a
query value with a control character (issuer/text.py) answers 422 `invalid_field`, whatever
the parameter's declared type and whether a handler reads it at all. The answer names the
part (`["path"]`, `["query", name]`), never the value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Receive, Scope, Send

from issuer.errors import ErrorCode
from issuer.problems import problem_response
from issuer.text import CONTROL_CHARACTER, has_control_character


def _refused_parts(scope: Scope) -> list[list[str]]:
    parts: list[list[str]] = []
    if has_control_character(scope.get("path", "")):
        parts.append(["path"])
    query = scope.get("query_string", b"").decode("latin-1")
    # decoded as Starlette decodes it for the handlers
    for name, value in parse_qsl(query, keep_blank_values=True):
        if has_control_character(name):
            parts.append(["query"])
        elif has_control_character(value):
            parts.append(["query", name])
    return parts


class UrlGuardMiddleware:
    """Pure ASGI middleware: 422 `invalid_field` for a control character in path or query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            parts = _refused_parts(scope)
            if parts:
                errors: list[dict[str, Any]] = [
                    {"code": ErrorCode.INVALID_FIELD.value, "loc": loc, "type": CONTROL_CHARACTER}
                    for loc in parts
                ]
                response = problem_response(
                    422, ErrorCode.INVALID_FIELD, quote(scope.get("path", "")), errors=errors
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
