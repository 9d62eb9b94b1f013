"""The tenant's audit chain (scope audit:read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from issuer.deps import AuditReader, SessionDep, TenantDep
from issuer.schemas.audit import AuditEntryOut, AuditPage
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.services import audit as service

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=AuditPage)
def list_audit(
    _principal: AuditReader,
    tenant: TenantDep,
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Entries of the tenant's chain in order."""
    rows = service.list_entries(session, tenant_id=tenant.id, after_seq=after_seq, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEntryOut.model_validate(r) for r in rows],
        next_after_seq=rows[-1].seq if more and rows else None,
    )
