"""Liveness (`/healthz`) and readiness (`/readyz`: database reachable, key rings present)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from issuer.db.models import Tenant
from issuer.errors import ErrorCode, Unavailable
from issuer.schemas.common import HealthOut

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
    """The database answers and every tenant's key ring directory exists."""
    settings = request.app.state.settings
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
            rings = list(session.scalars(select(Tenant.key_ring)))
    except SQLAlchemyError as exc:
        raise Unavailable(ErrorCode.UNAVAILABLE, "database") from exc
    for ring in rings:
        if not (settings.keys_dir / ring).is_dir():
            raise Unavailable(ErrorCode.UNAVAILABLE, "keys")
    return HealthOut(status="ready")
