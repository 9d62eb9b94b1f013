"""What the middleware share: a problem answer sent straight over ASGI, the matched route's
path template (for logs), and the logger (`issuer.middleware`, one name for log filters)."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import Scope, Send

from issuer.errors import ErrorCode
from issuer.problems import problem_body

log = logging.getLogger("issuer.middleware")


async def _send_problem(send: Send, status: int, code: ErrorCode, path: str) -> None:
    body = json.dumps(problem_body(status, code, path)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _walk_routes(routes: Any, prefix: str, out: dict[int, str]) -> None:
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's included router: its prefix + its routes
            _walk_routes(original.routes, prefix + route.include_context.prefix, out)
        elif hasattr(route, "path"):
            out[id(route)] = prefix + route.path


def route_template(scope: Scope) -> str:
    """The matched route's full path template (`/api/v1/residents/{resident_id}`), never the
    raw path; "unmatched" when routing found nothing."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    app = scope.get("app")
    state = getattr(app, "state", None)
    templates: dict[int, str] | None = getattr(state, "route_templates", None)
    if state is not None and (templates is None or id(route) not in templates):
        templates = {}
        _walk_routes(getattr(app, "routes", ()), "", templates)
        state.route_templates = templates
    return (templates or {}).get(id(route), str(getattr(route, "path", "unmatched")))
