"""Liveness (`/healthz`) and readiness (`/readyz`: the checks of services/readiness.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from issuer.errors import ErrorCode, Unavailable
from issuer.schemas.common import HealthOut, ProblemOut
from issuer.services.readiness import ReadinessProbe

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=HealthOut,
    responses={
        503: {
            "model": ProblemOut,
            "description": "not ready: `errors` lists each failed check as {check, code, "
            "tenant?}, e.g. {check: root_ring, code: ring_not_found}",
        }
    },
)
def readyz(request: Request) -> HealthOut:
    """The database answers and is migrated, and every signing key (root, tenants) loads."""
    probe: ReadinessProbe = request.app.state.readiness
    readiness = probe.check(int(request.app.state.clock.now().timestamp()))
    if not readiness.ready:
        raise Unavailable(
            ErrorCode.NOT_READY,
            errors=[r.as_error() for r in readiness.failures],
            headers={"Retry-After": "5"},
        )
    return HealthOut(status="ready")
