"""Server-side browser sessions of the portal.

The cookie holds 32 random bytes (base64url); the database keeps only their SHA-256. The
cookie is ``HttpOnly``, ``SameSite=Lax`` (the wallet's redirect back is a top-level
navigation from another site) and, over https, ``Secure`` with the ``__Host-`` prefix (no
``Domain``, path ``/``). A session ends after ``IDLE`` without a request and at the latest
``ABSOLUTE`` after it began (its last use is written at most once a minute, not on every
page). Logging in always starts a new session (a new cookie value, the old row deleted), so
a value planted in her browser before the login is worth nothing after it. Every form
carries the session's CSRF token; a fresh presentation of the wallet (``FRESH``) is asked
before a step that cannot be undone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from wallet_api.portal.models import PortalSession

IDLE = timedelta(minutes=15)
ABSOLUTE = timedelta(hours=8)
FRESH = timedelta(minutes=5)
TOUCH = timedelta(minutes=1)
SECURE_COOKIE = "__Host-bid_portal"
PLAIN_COOKIE = "bid_portal"
_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def digest(value: str) -> str:
    """The stored id of a cookie value."""
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def cookie_name(secure: bool) -> str:
    """``__Host-bid_portal`` over https, ``bid_portal`` on a plain-http development server."""
    return SECURE_COOKIE if secure else PLAIN_COOKIE


def cookie_value(request: Request, secure: bool) -> str | None:
    """This browser's session cookie, when it has the right shape."""
    value = request.cookies.get(cookie_name(secure))
    return value if value and _VALUE.match(value) else None


def load(
    session: Session, request: Request, *, tenant_id: int, secure: bool, now: datetime
) -> tuple[PortalSession, str] | None:
    """The live session of this browser for this tenant (its last use moved to `now`)."""
    value = cookie_value(request, secure)
    if value is None:
        return None
    row = session.get(PortalSession, digest(value))
    if row is None or row.tenant_id != tenant_id:
        return None
    if now - row.last_seen_at >= IDLE or now - row.created_at >= ABSOLUTE:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at >= TOUCH:  # a write at most once a minute, not per page
        row.last_seen_at = now
    return row, value


def create(
    session: Session,
    *,
    tenant_id: int,
    now: datetime,
    lang: str,
    resident_id: uuid.UUID | None = None,
) -> tuple[PortalSession, str]:
    """A new session (and its cookie value); idle sessions of everyone are pruned."""
    session.execute(
        delete(PortalSession)
        .where(PortalSession.last_seen_at < now - IDLE)
        .execution_options(synchronize_session=False)
    )
    value = secrets.token_urlsafe(32)
    row = PortalSession(
        id=digest(value),
        tenant_id=tenant_id,
        resident_id=resident_id,
        csrf=secrets.token_urlsafe(32),
        lang=lang,
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return row, value


def rotate(
    session: Session, old: PortalSession, *, resident_id: uuid.UUID, now: datetime
) -> tuple[PortalSession, str]:
    """Log in: the old session is deleted, a new one (new id, new CSRF token) begins."""
    tenant_id, lang = old.tenant_id, old.lang
    session.delete(old)
    session.flush()
    row, value = create(session, tenant_id=tenant_id, now=now, lang=lang, resident_id=resident_id)
    row.fresh_until = now + FRESH  # she has just presented her wallet
    return row, value


def end(session: Session, row: PortalSession) -> None:
    """Log out: the row is deleted (the cookie is cleared by the caller)."""
    session.delete(row)
    session.flush()


def csrf_ok(row: PortalSession, token: str | None) -> bool:
    """Whether a form's token is this session's."""
    return bool(token) and hmac.compare_digest(row.csrf, str(token))


def is_fresh(row: PortalSession, now: datetime) -> bool:
    """Whether she presented her wallet within ``FRESH``."""
    return row.fresh_until is not None and now < row.fresh_until


def set_cookie(response: Response, value: str, *, secure: bool) -> None:
    """The session cookie (no ``Max-Age``: it ends with the browser, or earlier here)."""
    response.set_cookie(
        cookie_name(secure), value, httponly=True, samesite="lax", secure=secure, path="/"
    )


def clear_cookie(response: Response, *, secure: bool) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax"
    )
