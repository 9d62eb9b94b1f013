"""Exception handlers: every error leaves as RFC 9457 `application/problem+json` with a `code`.

One handler on `IssuerError` serves the whole family (Starlette looks handlers up along the
MRO). Validation errors become `invalid_request` with field locations but never the input
(`invalid_field` when a refused value holds a control character, issuer/text.py);
a constraint violation (a concurrent request won) is 409 `conflict`, an unreachable or locked
database 503 `unavailable`; other unexpected exceptions become a 500 without detail.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from issuer.errors import TITLES, ErrorCode, IssuerError, problem_type
from issuer.text import CONTROL_CHARACTER, has_control_character

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.INSUFFICIENT_SCOPE,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.REQUEST_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.INVALID_REQUEST,
    503: ErrorCode.UNAVAILABLE,
}


def problem_body(
    status: int,
    code: ErrorCode,
    instance: str,
    *,
    title: str | None = None,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The problem document (RFC 9457 §3) plus our `code` and optional `errors` members."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title or TITLES.get(code, code.value),
        "status": status,
        "code": code.value,
        "instance": instance,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    code: ErrorCode,
    instance: str,
    *,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    return JSONResponse(
        problem_body(status, code, instance, detail=detail, errors=errors),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _is_control_error(err: dict[str, Any]) -> bool:
    # ours (issuer/text.py), or any refused value (enum, date, UUID, key) holding one
    if err.get("type") == CONTROL_CHARACTER:
        return True
    parts = [err.get("input"), *err.get("loc", ())]
    return any(isinstance(p, str) and has_control_character(p) for p in parts)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # location and error type only: pydantic's `input` and `msg` may echo personal data
    out = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        if _is_control_error(err):
            clean = [part for part in loc if not has_control_character(part)]
            out.append(
                {"code": ErrorCode.INVALID_FIELD.value, "loc": clean, "type": CONTROL_CHARACTER}
            )
        else:
            out.append(
                {"code": ErrorCode.INVALID_REQUEST.value, "loc": loc, "type": err.get("type")}
            )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers on `app` (called by create_app)."""

    @app.exception_handler(IssuerError)
    async def _issuer_error(request: Request, exc: IssuerError) -> Response:
        return problem_response(
            exc.status,
            exc.code,
            request.url.path,
            detail=exc.detail,
            errors=exc.errors or None,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        is_field = any(e["code"] == ErrorCode.INVALID_FIELD for e in errors)
        code = ErrorCode.INVALID_FIELD if is_field else ErrorCode.INVALID_REQUEST
        return problem_response(422, code, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        if exc.status_code >= 500:
            code = ErrorCode.INTERNAL_ERROR
        return problem_response(
            exc.status_code, code, request.url.path, headers=dict(exc.headers or {}) or None
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        # a unique or foreign key constraint refused a write a concurrent request won
        log.warning("integrity_conflict", extra={"exc_type": type(exc.orig).__name__})
        return problem_response(409, ErrorCode.CONFLICT, request.url.path)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> Response:
        # database down, or (SQLite) the write lock not obtained within the busy timeout
        log.error("database_unavailable", extra={"exc_type": type(exc.orig).__name__})
        return problem_response(
            503, ErrorCode.UNAVAILABLE, request.url.path, headers={"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_exception", extra={"exc_type": type(exc).__name__})
        return problem_response(500, ErrorCode.INTERNAL_ERROR, request.url.path)
