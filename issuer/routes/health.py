"""Liveness (`/healthz`) and readiness (`/readyz`: database reachable, every tenant's key ring
opens and has an active key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from issuer.db.models import Tenant
from issuer.errors import ErrorCode, Unavailable
from issuer.schemas.common import HealthOut
from keys.errors import KeysError
from keys.lifecycle import KeyType
from keys.ring import KeyRing

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=HealthOut,
    responses={503: {"description": "database or keys not ready (problem+json)"}},
)
def readyz(request: Request) -> HealthOut:
    """The database answers and every tenant's key ring has an active key."""
    settings = request.app.state.settings
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
            rings = list(session.scalars(select(Tenant.key_ring)))
    except SQLAlchemyError as exc:
        raise Unavailable(ErrorCode.UNAVAILABLE, "database") from exc
    now = int(request.app.state.clock.now().timestamp())
    for ring in rings:
        try:  # metadata only: no passphrase, no decryption
            KeyRing.open(settings.keys_dir / ring).active(now, KeyType.BEW)
        except KeysError as exc:
            raise Unavailable(ErrorCode.UNAVAILABLE, "keys") from exc
    return HealthOut(status="ready")
