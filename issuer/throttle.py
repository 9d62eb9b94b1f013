"""ThrottleMiddleware: 429 `too_many_authentication_failures` before any routing, for a caller
this process already saw at its failure limit (services/authentication.py, `early_refusal`).

A flood from a limited address then costs reading the request line and headers and writing a
small answer: no dependency, no thread, no database, no hashing. The answer comes after
`auth_refusal_delay_seconds` (0.5 s; a sleeping coroutine, no thread): a client that ignores
`Retry-After` and sends its next request as soon as it has the answer gets at most two answers
a second per connection, so a flood over a few dozen connections no longer fills the worker's
event loop and a legitimate client of the same worker is barely slowed. A token this process
verified lately passes (a client behind the same address as an attacker keeps working);
everything else is decided by the authentication dependency as before.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from issuer.client_address import scope_client_address
from issuer.errors import ErrorCode
from issuer.problems import problem_response
from issuer.services.authentication import AuthGuard

_BEARER = b"bearer "
API_PATH_PREFIX = "/api/"


class ThrottleMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # API keys are for /api/ only: a phone's wallet token from the same address is not ours
        if scope["type"] == "http" and scope["path"].startswith(API_PATH_PREFIX):
            for name, value in scope["headers"]:
                if name == b"authorization" and value[:7].lower() == _BEARER:
                    wait = self._refusal(scope, value[7:].strip().decode("latin-1"))
                    if wait is not None:
                        delay = scope["app"].state.settings.auth_refusal_delay_seconds
                        if delay:
                            await anyio.sleep(delay)
                        response = problem_response(
                            429,
                            ErrorCode.TOO_MANY_AUTHENTICATION_FAILURES,
                            scope["path"],
                            headers={"Retry-After": str(wait)},
                        )
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope, token: str) -> int | None:
        state = scope["app"].state
        guard: AuthGuard = state.auth_guard
        return guard.early_refusal(
            token, address=scope_client_address(scope), now=state.clock.now()
        )
