"""Liveness (`/healthz`) and readiness (`/readyz`: the checks of services/readiness.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from issuer.errors import ErrorCode, Unavailable
from issuer.schemas.common import HealthOut, JobOut, ProblemOut, ReadyOut
from issuer.services.readiness import ReadinessProbe

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={
        503: {
            "model": ProblemOut,
            "description": "not ready: `errors` lists each failed check as {check, code, "
            "tenant?}, e.g. {check: root_ring, code: ring_not_found}",
        }
    },
)
def readyz(request: Request) -> ReadyOut:
    """The database answers and is migrated, and every signing key (root, tenants) loads.
    `jobs` reports the periodic jobs' last successes (a stale job does not make it unready)."""
    probe: ReadinessProbe = request.app.state.readiness
    now = request.app.state.clock.now()
    readiness = probe.check(int(now.timestamp()))
    if not readiness.ready:
        raise Unavailable(
            ErrorCode.NOT_READY,
            errors=[r.as_error() for r in readiness.failures],
            headers={"Retry-After": "5"},
        )
    jobs = [JobOut(job=j.job, last_success=j.last_success, stale=j.stale) for j in probe.jobs(now)]
    return ReadyOut(status="ready", jobs=jobs)
