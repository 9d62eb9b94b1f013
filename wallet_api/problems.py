"""Exception handlers of the wallet API.

``OAuthError`` (token, bearer, credential, notification endpoints) leaves as OAuth JSON
``{"error", "error_description"}`` with ``Cache-Control: no-store`` (RFC 6749 §5.2,
OpenID4VCI 1.0 §8.3.1.2); a refused bearer token also gets ``WWW-Authenticate``
(RFC 6750 §3). ``WalletProblem`` leaves as RFC 9457 problem+json with the issuer's shape
(and the headers it carries, such as ``Retry-After``). ``PageProblem`` leaves as the HTML
page it carries: a person in a browser reads a page, not JSON.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from issuer.errors import PROBLEM_TYPE_PREFIX
from issuer.problems import PROBLEM_JSON
from wallet_api.errors import BearerError, DpopError, OAuthError, PageProblem, WalletApiError

NO_STORE = {"Cache-Control": "no-store"}


def oauth_response(exc: OAuthError) -> JSONResponse:
    """The JSON error of an OAuth-style endpoint."""
    body = {"error": exc.code}
    if exc.description:
        body["error_description"] = exc.description
    headers = dict(NO_STORE)
    if isinstance(exc, BearerError):
        headers["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
    elif isinstance(exc, DpopError):
        # RFC 9449 §7.1: the DPoP challenge names the algorithms we accept
        headers["WWW-Authenticate"] = f'DPoP error="{exc.code}", algs="ES256"'
    headers.update(exc.headers)
    if exc.status == 429:
        headers.setdefault("Retry-After", "60")  # a limit that knows its window says so
    return JSONResponse(body, status_code=exc.status, headers=headers)


def install_wallet_handlers(app: FastAPI) -> None:
    """Register the wallet handlers on ``app`` (the issuer's handle everything else)."""

    @app.exception_handler(WalletApiError)
    async def _wallet_error(request: Request, exc: WalletApiError) -> Response:
        if isinstance(exc, OAuthError):
            return oauth_response(exc)
        if isinstance(exc, PageProblem):
            return HTMLResponse(exc.html, status_code=exc.status, headers=exc.headers)
        body = {
            "type": PROBLEM_TYPE_PREFIX + exc.code,
            "title": exc.description or exc.code,
            "status": exc.status,
            "code": exc.code,
            "instance": request.url.path,
        }
        headers = dict(exc.headers)  # e.g. Retry-After of a rate limit
        return JSONResponse(
            body, status_code=exc.status, media_type=PROBLEM_JSON, headers=headers or None
        )
