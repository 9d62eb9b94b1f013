"""Bounded request bodies for the OAuth-style endpoints (they parse bodies themselves, so a
malformed body gets the OAuth error shape rather than a validation problem)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from issuer.text import has_control_character, json_fault
from wallet_api.errors import OAuthError, WalletApiError

MAX_FORM_FIELDS = 16


async def read_bounded(request: Request, max_bytes: int, error: type[WalletApiError]) -> bytes:
    """The body, refused with 413 once it exceeds ``max_bytes`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise error("invalid_request", "body too large", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise error("invalid_request", "body too large", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_form(request: Request, max_bytes: int, error: type[OAuthError]) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; repeated parameters are refused
    (RFC 6749 §3.2)."""
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise error("invalid_request", "form-encoded body required")
    raw = await read_bounded(request, max_bytes, error)
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=bool(raw),
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise error("invalid_request", "malformed form body") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise error("invalid_request", "repeated parameter")
        if has_control_character(name) or has_control_character(value):
            raise error("invalid_request", "control character in the body")
        form[name] = value
    return form


async def read_json(
    request: Request, max_bytes: int, error: type[OAuthError], code: str = "invalid_request"
) -> Any:
    """A JSON body (``application/json``), or ``code``."""
    if _media_type(request) != "application/json":
        raise error(code, "application/json body required")
    raw = await read_bounded(request, max_bytes, error)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(code, "malformed JSON body") from exc
    if json_fault(body) is not None:  # control characters (issuer/text.py), or too deep
        raise error(code, "control character or deep nesting in the body")
    return body
